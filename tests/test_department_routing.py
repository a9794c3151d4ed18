"""Routing by department through the webhooks (issue 16): the strategy picks the member, members only, levels
widen with the wait, overflow joins late, and the routing query count does not grow with the members."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.test_inbound_querybudget import Statements
from tests.twilio.fixtures import twiml_of
from voiceconfig.models import Call, Department, DepartmentMember, IvrOption, PhoneLine, VoiceAgent

pytestmark = pytest.mark.django_db


def department(name: str, agents, *, levels=None, **fields) -> Department:
    dept = Department.objects.create(name=name, **fields)
    for index, agent in enumerate(agents):
        DepartmentMember.objects.create(
            department=dept, agent=agent, level=(levels or {}).get(agent.pk, 1), position=index
        )
    return dept


def waiting_call(twilio, **kw) -> Call:
    call_sid = twilio.new_sid()
    twiml_of(twilio.incoming(call_sid=call_sid, **kw))
    return Call.objects.get(call_sid=call_sid)


def hang_up(twilio, call: Call) -> None:
    """The caller talks to the agent and hangs up; wrap-up is 0 s, so the agent is free at once."""
    call.refresh_from_db()
    twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=call.agent)
    twilio.status(call.call_sid, "completed", CallDuration="30")


def test_a_hundred_calls_one_after_another_go_twenty_to_each_of_five_round_robin_members(
    twilio, line, config, online_agent, twilio_gateway
):
    config.wrap_up_seconds = 0
    config.save()
    agents = [online_agent(f"rr{i}") for i in range(5)]
    line.default_department = department("Round", agents, strategy="round-robin")
    line.save()

    rung = []
    for _ in range(100):
        call = waiting_call(twilio)
        assert call.agent is not None
        rung.append(call.agent.identity)
        hang_up(twilio, call)

    assert {identity: rung.count(identity) for identity in set(rung)} == {f"rr{i}": 20 for i in range(5)}
    assert rung[:6] == ["rr0", "rr1", "rr2", "rr3", "rr4", "rr0"]  # in the listed order, round and round


def test_only_members_are_rung_and_linear_rings_the_first_listed(twilio, line, online_agent, twilio_gateway):
    outsider = online_agent("outsider", last_call_ended_at=None)  # idle longest, but not a member
    second, first = online_agent("second"), online_agent("first")
    line.default_department = department("Sales", [first, second], strategy="linear")
    line.save()

    calls = [waiting_call(twilio) for _ in range(3)]

    assert [call.agent for call in calls] == [first, second, None]
    outsider.refresh_from_db()
    assert outsider.status == "available"


def test_an_ivr_option_sends_its_callers_to_its_department(twilio, line, config, online_agent, twilio_gateway):
    sales_agent, support_agent = online_agent("sales"), online_agent("support", last_call_ended_at=None)
    line.default_department = department("Support", [support_agent])
    line.save()
    IvrOption.objects.create(config=config, digit="1", label="for sales", department=department("Sales", [sales_agent]))
    call = waiting_call(twilio)

    twilio.gather(call.call_sid, digits="1")

    call.refresh_from_db()
    assert call.department.name == "Sales"
    assert call.agent == sales_agent


def test_the_next_level_joins_only_after_widen_after_seconds(twilio, line, online_agent, twilio_gateway):
    busy_best = online_agent("best", status="unavailable")
    backup = online_agent("backup")
    line.default_department = department("Tiered", [busy_best, backup], levels={backup.pk: 2}, widen_after_seconds=30)
    line.save()
    call = waiting_call(twilio)
    assert call.agent is None  # level 2 has not joined yet, though free

    Call.objects.filter(pk=call.pk).update(queued_at=timezone.now() - timedelta(seconds=31))
    twilio.queue_wait(call.call_sid)

    call.refresh_from_db()
    assert call.agent == backup


def test_an_agent_freed_early_does_not_take_a_call_before_their_level_joins(
    twilio, line, online_agent, twilio_gateway, client
):
    best = online_agent("best", status="unavailable")
    backup = online_agent("backup", status="unavailable")
    line.default_department = department("Tiered", [best, backup], levels={backup.pk: 2}, widen_after_seconds=60)
    line.save()
    call = waiting_call(twilio)
    from voiceconfig import calls as call_services

    assert call_services.call_offer_to_agent(agent=_available(backup)) is None
    assert call_services.call_offer_to_agent(agent=_available(best)) == call


def _available(agent: VoiceAgent) -> VoiceAgent:
    VoiceAgent.objects.filter(pk=agent.pk).update(status="available")
    agent.refresh_from_db()
    return agent


def test_the_overflow_department_joins_after_overflow_after_seconds(twilio, line, online_agent, twilio_gateway):
    helper = online_agent("helper")
    busy = online_agent("busy", status="unavailable")
    line.default_department = department(
        "Main", [busy], overflow_department=department("Helpers", [helper]), overflow_after_seconds=45
    )
    line.save()
    call = waiting_call(twilio)
    assert call.agent is None

    Call.objects.filter(pk=call.pk).update(queued_at=timezone.now() - timedelta(seconds=46))
    twilio.queue_wait(call.call_sid)

    call.refresh_from_db()
    assert call.agent == helper


def test_a_department_that_lists_nobody_is_answered_by_everyone_as_its_line_was(
    twilio, line, online_agent, twilio_gateway
):
    anyone = online_agent("anyone")
    line.default_department = Department.objects.create(name="Everyone")
    line.save()

    assert waiting_call(twilio).agent == anyone


@pytest.mark.parametrize("strategy", ["longest-idle", "round-robin", "fewest-calls", "linear", "random"])
def test_the_routing_query_count_does_not_grow_with_the_members(twilio, config, online_agent, twilio_gateway, strategy):
    counts = []
    for size, number in ((3, "+14155550170"), (30, "+14155550171")):
        agents = [online_agent(f"{strategy}-{size}-{i}") for i in range(size)]
        line = PhoneLine.objects.create(name=f"L{size}", phone_number=number, config=config)
        line.default_department = department(f"D{size}", agents, strategy=strategy)
        line.save()
        with CaptureQueriesContext(connection) as queries:
            call = waiting_call(twilio, to=number)
        assert call.agent in agents
        counts.append(len(queries))
        VoiceAgent.objects.filter(pk__in=[a.pk for a in agents]).update(status="unavailable")
    assert counts[0] == counts[1]


def test_ringing_all_members_costs_the_same_statements_for_3_or_30_members(
    twilio, config, online_agent, twilio_gateway
):
    counts = []
    for size, number in ((3, "+14155550170"), (30, "+14155550171")):
        agents = [online_agent(f"ra-{size}-{i}") for i in range(size)]
        line = PhoneLine.objects.create(name=f"L{size}", phone_number=number, config=config)
        line.default_department = department(f"D{size}", agents, strategy="ring-all")
        line.save()
        twilio_gateway.add_participant.reset_mock()
        with Statements() as queries:
            twilio.incoming(to=number)
        assert len(twilio_gateway.add_participant.call_args_list) == size  # every member rung
        counts.append(queries.count)
        VoiceAgent.objects.filter(pk__in=[a.pk for a in agents]).update(status="unavailable")
    assert counts[0] == counts[1]
    # line+config, insert the call, is anyone available, lock the oldest caller, the members, lock the free members
    # (one statement), insert their offers, members ringing, routing log; then, having rung them: lock the call,
    # its conference SID, the legs' SIDs (one UPDATE), which offers were cancelled meanwhile
    assert counts[0] == 13, counts


def test_an_incoming_call_rung_to_a_department_member_costs_10_statements(twilio, line, online_agent, twilio_gateway):
    agents = [online_agent(f"m{i}") for i in range(12)]
    line.default_department = department("Pinned", agents)
    line.save()
    for _ in range(12):
        twilio.incoming()  # every member busy, then one more caller waiting
    twilio.incoming()
    VoiceAgent.objects.filter(pk=agents[0].pk).update(status="available")
    DepartmentMember.objects.create(department=line.default_department, agent=online_agent("free"), level=1)
    with Statements() as statements:
        twilio.incoming()
    # line+config, insert the call already queued, is anyone available, lock the department's oldest caller
    # (with the department's row), the members with who is free, lock the first ranked free member, assign call,
    # agent ringing, routing log, store the agent's leg
    assert statements.count == 10, statements


# --- limits: max callers, max wait, nobody logged in ------------------------------------------------------


def test_a_caller_arriving_when_max_callers_wait_gets_the_no_agents_action(twilio, line, online_agent, twilio_gateway):
    busy = online_agent("busy", status="unavailable")
    line.default_department = department(
        "Small", [busy], max_callers=2, no_agents_action="message", no_agents_message="We are very busy."
    )
    line.save()
    waiting = [waiting_call(twilio) for _ in range(2)]

    third_sid = twilio.new_sid()
    answer = twiml_of(twilio.incoming(call_sid=third_sid))

    assert [call.stage for call in waiting] == ["queued", "queued"]
    third = Call.objects.get(call_sid=third_sid)
    assert third.stage == "message"
    assert [verb.tag for verb in answer] == ["Say", "Say", "Hangup"]
    assert "We are very busy." in [verb.text for verb in answer]


def test_nobody_logged_in_forwards_when_the_department_says_forward(twilio, line, online_agent, twilio_gateway):
    offline = online_agent("offline", status="offline")
    line.default_department = department(
        "Night", [offline], no_agents_action="forward", no_agents_forward_to="+14155550199"
    )
    line.save()
    call_sid = twilio.new_sid()

    answer = twiml_of(twilio.incoming(call_sid=call_sid))

    assert Call.objects.get(call_sid=call_sid).stage == "forwarded"
    assert answer.find("Dial").text == "+14155550199"


def test_nobody_logged_in_with_wait_keeps_the_caller_waiting(twilio, line, online_agent, twilio_gateway):
    line.default_department = department("Patient", [online_agent("away", status="offline")])
    line.save()

    assert waiting_call(twilio).stage == "queued"


def test_the_departments_max_wait_replaces_the_configs(twilio, line, config, online_agent, twilio_gateway):
    config.max_queue_wait_seconds = 600
    config.save()
    line.default_department = department("Quick", [online_agent("busy", status="unavailable")], max_wait_seconds=20)
    line.save()
    call = waiting_call(twilio)

    Call.objects.filter(pk=call.pk).update(queued_at=timezone.now() - timedelta(seconds=21))
    twilio.queue_wait(call.call_sid)

    call.refresh_from_db()
    assert call.stage == "voicemail"
    twilio_gateway.redirect_call.assert_called_once()


# --- announcements ----------------------------------------------------------------------------------------


def said(answer) -> list[str]:
    return [verb.text for verb in answer if verb.tag == "Say"]


def test_a_waiting_caller_hears_their_place_and_estimated_wait_at_most_once_a_minute(
    twilio, line, config, online_agent, twilio_gateway
):
    config.voice, config.language = "Polly.Celine", "fr-FR"
    config.save()
    line.default_department = department("Busy", [online_agent("busy", status="unavailable")], announce_position=True)
    line.save()
    first, second = waiting_call(twilio), waiting_call(twilio)

    answer = twiml_of(twilio.queue_wait(second.call_sid))
    again = twiml_of(twilio.queue_wait(second.call_sid))

    # position 2 x 180 s default handle time / 1 staffed member = 6 minutes
    assert said(answer)[0] == "You are number 2 in line. Your estimated wait is about 6 minutes."
    assert answer[0].get("voice") == "Polly.Celine" and answer[0].get("language") == "fr-FR"
    assert not any("in line" in text for text in said(again))
    Call.objects.filter(pk=second.pk).update(announced_at=timezone.now() - timedelta(seconds=61))
    assert "You are number 2 in line" in said(twiml_of(twilio.queue_wait(second.call_sid)))[0]
    assert "You are number 1 in line" in said(twiml_of(twilio.queue_wait(first.call_sid)))[0]


def test_the_estimate_uses_the_departments_recent_talk_time_and_staffed_members(
    twilio, line, online_agent, twilio_gateway
):
    members = [online_agent(f"m{i}", status="unavailable") for i in range(2)]
    dept = department("Measured", members, announce_position=True)
    line.default_department = dept
    line.save()
    now = timezone.now()
    for n in range(3):
        Call.objects.create(
            call_sid=f"CA{0xABC000 + n:032x}",
            phone_line=line,
            stage="connected",
            status="completed",
            answered_at=now - timedelta(minutes=10),
            talk_seconds=240,
        )
    call = waiting_call(twilio)

    answer = twiml_of(twilio.queue_wait(call.call_sid))

    # 1 x 240 s / 2 staffed = 120 s: 2 minutes
    assert said(answer)[0] == "You are number 1 in line. Your estimated wait is about 2 minutes."


def test_a_department_that_does_not_announce_says_nothing_about_the_queue(twilio, line, online_agent, twilio_gateway):
    line.default_department = department("Quiet", [online_agent("busy", status="unavailable")])
    line.save()
    call = waiting_call(twilio)

    assert not any("in line" in text for text in said(twiml_of(twilio.queue_wait(call.call_sid))))
