"""Routing (decisions 4 and 6): who is rung, ring timeouts, queueing without timers, voicemail after the wait."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.twilio.fixtures import twiml_of, verbs
from voiceconfig.models import AgentStatus, Call, CallEvent, CallStage, CallStatus, PhoneLine, VoiceAgent
from voicetwilio import gateway, routing
from voicetwilio.links import RETRY_OVERRIDES

pytestmark = pytest.mark.django_db


def waiting_call(twilio, call_sid: str | None = None, **kw) -> Call:
    call_sid = call_sid or twilio.new_sid()
    twiml_of(twilio.incoming(call_sid=call_sid, **kw))
    return Call.objects.get(call_sid=call_sid)


def make_waited(call: Call, seconds: int) -> None:
    Call.objects.filter(pk=call.pk).update(queued_at=timezone.now() - timedelta(seconds=seconds))


# --- who may be chosen -----------------------------------------------------------------------------------


def test_the_longest_idle_agent_is_rung_first(twilio, line, online_agent, twilio_gateway):
    now = timezone.now()
    recent = online_agent("recent", last_call_ended_at=now - timedelta(minutes=1))
    idle = online_agent("idle", last_call_ended_at=now - timedelta(minutes=30))
    never = online_agent("never", last_call_ended_at=None)
    calls = [waiting_call(twilio) for _ in range(3)]
    assert [call.agent for call in calls] == [never, idle, recent]


def test_an_agent_whose_heartbeats_stopped_is_never_chosen(twilio, line, online_agent, twilio_gateway, settings):
    settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS = 60
    online_agent("gone", last_heartbeat_at=timezone.now() - timedelta(seconds=61))
    assert waiting_call(twilio).agent is None
    twilio_gateway.add_participant.assert_not_called()


@pytest.mark.parametrize(
    "status", [AgentStatus.OFFLINE, AgentStatus.UNAVAILABLE, AgentStatus.RINGING, AgentStatus.IN_CALL]
)
def test_agents_who_are_not_available_are_never_chosen(twilio, line, online_agent, twilio_gateway, status):
    online_agent("busy", status=status)
    assert waiting_call(twilio).agent is None


def test_an_agent_in_wrap_up_is_chosen_only_once_it_has_passed(twilio, line, online_agent, twilio_gateway):
    agent = online_agent("wrapping", status=AgentStatus.WRAP_UP, wrap_up_until=timezone.now() + timedelta(seconds=30))
    assert waiting_call(twilio).agent is None
    VoiceAgent.objects.filter(pk=agent.pk).update(wrap_up_until=timezone.now() - timedelta(seconds=1))
    assert waiting_call(twilio).agent is None  # the older caller gets the agent first
    assert Call.objects.order_by("queued_at").first().agent == agent


def test_only_the_lines_agents_answer_it_and_a_line_without_agents_is_answered_by_all(
    twilio, line, config, online_agent, twilio_gateway
):
    alice, bob = online_agent("alice"), online_agent("bob")
    sales = PhoneLine.objects.create(name="Sales", phone_number="+14155550123", config=config)
    sales.agents.set([bob])
    assert waiting_call(twilio, to="+14155550123").agent == bob
    assert waiting_call(twilio, to="+14155550100").agent == alice  # the main line lists nobody: everyone


def test_an_agent_on_a_live_call_is_not_chosen_even_if_marked_available(twilio, line, online_agent, twilio_gateway):
    agent = online_agent("alice")
    first = waiting_call(twilio)
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.AVAILABLE)  # wrong, but it can happen
    assert first.agent == agent
    assert waiting_call(twilio).agent is None


def test_the_database_refuses_a_second_live_call_for_an_agent(line, online_agent):
    agent = online_agent("alice")
    Call.objects.create(call_sid="CA" + "1" * 32, agent=agent, status=CallStatus.IN_PROGRESS)
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.create(call_sid="CA" + "2" * 32, agent=agent, status=CallStatus.RINGING)


def test_routing_marks_the_agent_ringing_and_skips_excluded_agents(twilio, line, online_agent, twilio_gateway):
    alice, bob = online_agent("alice"), online_agent("bob")
    VoiceAgent.objects.filter(pk__in=[alice.pk, bob.pk]).update(status=AgentStatus.OFFLINE)
    call = waiting_call(twilio)
    VoiceAgent.objects.filter(pk__in=[alice.pk, bob.pk]).update(status=AgentStatus.AVAILABLE)

    assert routing.route_waiting_callers(line=line, exclude_agent_ids=[alice.pk]) == call

    bob.refresh_from_db()
    assert bob.status == AgentStatus.RINGING and Call.objects.get(pk=call.pk).agent == bob
    assert twilio_gateway.add_participant.call_args.kwargs["to"] == "client:bob"
    assert routing.route_waiting_callers(line=line) is None  # it has an agent now: nobody else is rung
    assert twilio_gateway.add_participant.call_count == 1


# --- ringing, the ring timeout and the next agent --------------------------------------------------------


def test_a_twilio_failure_while_ringing_releases_the_agent_and_the_caller_keeps_waiting(
    twilio, line, online_agent, twilio_gateway
):
    agent = online_agent("alice")
    twilio_gateway.add_participant.side_effect = gateway.GatewayError("Twilio could not be reached.")
    root = twiml_of(twilio.incoming(call_sid="CA" + "3" * 32))
    assert root.find("Dial/Conference") is not None
    call = Call.objects.get()
    agent.refresh_from_db()
    assert call.agent is None and call.stage == CallStage.QUEUED
    assert agent.status == AgentStatus.AVAILABLE
    assert "Twilio could not be reached." in call.logs.filter(event=CallEvent.ROUTING).last().message


def test_an_agent_who_does_not_answer_in_time_is_released_and_the_next_agent_is_rung(
    twilio, line, online_agent, twilio_gateway
):
    alice = online_agent("alice", last_call_ended_at=None)
    bob = online_agent("bob", last_call_ended_at=timezone.now() - timedelta(minutes=5))
    call = waiting_call(twilio, call_sid="CA" + "4" * 32)
    assert call.agent == alice
    twilio.leg(call.call_sid, call.agent_call_sid, "no-answer", agent=alice, seq=2)
    call.refresh_from_db()
    alice.refresh_from_db()
    assert call.agent == bob
    assert alice.status == AgentStatus.AVAILABLE
    assert alice.last_call_ended_at is not None  # to the back of the line: bob (idle 5 min) is now ahead of her
    assert twilio_gateway.legs() == ["client:alice", "client:bob"]
    assert twilio_gateway.add_participant.call_args.kwargs["status_callback_url"].endswith(
        f"&agent={bob.pk}#{RETRY_OVERRIDES}"
    )


def test_with_nobody_else_the_caller_who_rang_out_keeps_waiting(twilio, line, online_agent, twilio_gateway):
    alice = online_agent("alice")
    call = waiting_call(twilio)
    twilio.leg(call.call_sid, call.agent_call_sid, "busy", agent=alice, seq=2)
    call.refresh_from_db()
    assert call.agent is None and call.stage == CallStage.QUEUED
    assert twilio_gateway.add_participant.call_count == 1  # not rung again at once


def test_the_first_leg_callback_may_arrive_before_twilios_answer_to_our_request(
    twilio, line, online_agent, twilio_gateway
):
    alice = online_agent("alice")
    call = waiting_call(twilio)
    Call.objects.filter(pk=call.pk).update(agent_call_sid="")  # as if the REST answer were still on its way
    leg = "CA" + "b" * 32
    twilio.leg(call.call_sid, leg, "in-progress", agent=alice, seq=2)
    call.refresh_from_db()
    alice.refresh_from_db()
    assert call.agent_call_sid == leg and alice.status == AgentStatus.IN_CALL


# --- waiting: the conference waitUrl ---------------------------------------------------------------------


def test_a_waiting_caller_hears_hold_music_and_twilio_comes_back_for_more(twilio, line, twilio_gateway):
    call = waiting_call(twilio)
    root = twiml_of(twilio.queue_wait(call.call_sid))
    assert verbs(root) == ["Play", "Redirect"]
    assert root.find("Play").text == line.config.hold_music_url
    assert root.find("Redirect").text == f"http://testserver/voicetwilio/queuewait?callSid={call.call_sid}"


def test_without_hold_music_the_caller_hears_a_short_message_and_a_pause(twilio, line, twilio_gateway):
    line.config.hold_music_url = ""
    line.config.save()
    call = waiting_call(twilio)
    assert verbs(twiml_of(twilio.queue_wait(call.call_sid))) == ["Say", "Pause", "Redirect"]


def test_each_wait_fetch_retries_routing(twilio, line, online_agent, twilio_gateway):
    call = waiting_call(twilio)
    alice = online_agent("alice")  # comes online while the caller waits
    twilio.queue_wait(call.call_sid)
    call.refresh_from_db()
    assert call.agent == alice
    assert twilio_gateway.legs() == ["client:alice"]


def test_the_longest_waiting_caller_is_served_first(twilio, line, online_agent, twilio_gateway):
    older, newer = waiting_call(twilio), waiting_call(twilio)
    make_waited(older, 120)
    online_agent("alice")
    twilio.queue_wait(newer.call_sid)  # the newer caller's music ends first
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.agent is not None and newer.agent is None


def test_after_the_maximum_wait_the_caller_is_sent_to_voicemail(twilio, line, twilio_gateway):
    line.config.max_queue_wait_seconds = 60
    line.config.save()
    call = waiting_call(twilio, call_sid="CA" + "5" * 32)
    make_waited(call, 59)
    twilio.queue_wait(call.call_sid)
    twilio_gateway.redirect_call.assert_not_called()
    make_waited(call, 60)
    twiml_of(twilio.queue_wait(call.call_sid))
    twilio_gateway.redirect_call.assert_called_once_with(
        call_sid=call.call_sid, url=f"http://testserver/voicetwilio/voicemail?callSid={call.call_sid}"
    )
    call.refresh_from_db()
    assert call.stage == CallStage.VOICEMAIL and call.wait_seconds >= 60

    root = twiml_of(twilio.voicemail(call.call_sid))
    assert verbs(root) == ["Say", "Record", "Say", "Hangup"]
    assert root.find("Say").text == line.config.voicemail_prompt
    record = root.find("Record")
    assert record.get("recordingStatusCallback") == record.get("action")

    twilio.recording(call.call_sid, RecordingDuration=12)
    call.refresh_from_db()
    assert call.voicemail and call.recording_url and call.recording_duration == 12


def test_a_caller_sent_to_voicemail_is_never_offered_to_an_agent(twilio, line, online_agent, twilio_gateway):
    line.config.max_queue_wait_seconds = 10
    line.config.save()
    call = waiting_call(twilio)
    make_waited(call, 11)
    twilio.queue_wait(call.call_sid)
    agent = online_agent("alice")
    assert routing.offer_queued_call(agent=agent) is None


def test_with_voicemail_off_the_caller_hears_the_unavailable_message(twilio, line, twilio_gateway):
    line.config.voicemail_enabled = False
    line.config.max_queue_wait_seconds = 10
    line.config.save()
    call = waiting_call(twilio)
    make_waited(call, 11)
    twilio.queue_wait(call.call_sid)
    assert Call.objects.get().stage == CallStage.MESSAGE
    root = twiml_of(twilio.voicemail(call.call_sid))
    assert verbs(root) == ["Say", "Hangup"]
    assert root.find("Say").text == line.config.unavailable_message


def test_while_an_agent_rings_the_maximum_wait_does_not_cut_in(twilio, line, online_agent, twilio_gateway):
    line.config.max_queue_wait_seconds = 10
    line.config.save()
    online_agent("alice")
    call = waiting_call(twilio)
    make_waited(call, 600)
    twilio.queue_wait(call.call_sid)
    twilio_gateway.redirect_call.assert_not_called()


def test_if_twilio_cannot_redirect_the_caller_they_keep_waiting(twilio, line, twilio_gateway):
    line.config.max_queue_wait_seconds = 10
    line.config.save()
    call = waiting_call(twilio)
    make_waited(call, 11)
    twilio_gateway.redirect_call.side_effect = gateway.GatewayError("Twilio did not answer.")
    assert verbs(twiml_of(twilio.queue_wait(call.call_sid))) == ["Play", "Redirect"]
    call.refresh_from_db()
    assert call.stage == CallStage.QUEUED
    assert "Twilio did not answer." in call.logs.last().message


def test_with_no_queueing_allowed_an_unanswerable_caller_goes_straight_to_voicemail(twilio, line, twilio_gateway):
    line.config.max_queue_wait_seconds = 0
    line.config.save()
    root = twiml_of(twilio.incoming())
    assert verbs(root) == ["Say", "Say", "Record", "Say", "Hangup"]  # greeting, voicemail prompt, ...
    assert Call.objects.get().stage == CallStage.VOICEMAIL


def test_with_no_queueing_allowed_a_free_agent_is_still_rung(twilio, line, online_agent, twilio_gateway):
    line.config.max_queue_wait_seconds = 0
    line.config.save()
    online_agent("alice")
    assert twiml_of(twilio.incoming()).find("Dial/Conference") is not None


# --- an agent becoming available -------------------------------------------------------------------------


def test_an_agent_becoming_available_is_offered_the_longest_waiting_call_they_may_answer(
    twilio, line, config, online_agent, twilio_gateway
):
    bob = online_agent("bob", status=AgentStatus.UNAVAILABLE)
    sales = PhoneLine.objects.create(name="Sales", phone_number="+14155550123", config=config)
    sales.agents.set([online_agent("carol", status=AgentStatus.OFFLINE)])
    not_for_bob = waiting_call(twilio, to="+14155550123")
    oldest_for_bob, newest = waiting_call(twilio), waiting_call(twilio)
    make_waited(not_for_bob, 300)
    make_waited(oldest_for_bob, 200)
    VoiceAgent.objects.filter(pk=bob.pk).update(status=AgentStatus.AVAILABLE)
    offered = routing.offer_queued_call(agent=bob)
    assert offered == oldest_for_bob
    assert twilio_gateway.add_participant.call_args.kwargs["conference_name"] == f"call-{oldest_for_bob.call_sid}"
    assert Call.objects.get(pk=newest.pk).agent is None
    assert routing.offer_queued_call(agent=bob) is None  # ringing now: nothing more


def test_an_agent_who_is_not_available_is_offered_nothing(twilio, line, online_agent, twilio_gateway):
    waiting_call(twilio)
    agent = online_agent("alice", status=AgentStatus.UNAVAILABLE)
    assert routing.offer_queued_call(agent=agent) is None
    twilio_gateway.add_participant.assert_not_called()


def test_an_agent_leg_that_completes_is_handed_to_call_control_for_warm_transfers(
    twilio, line, online_agent, twilio_gateway
):
    alice = online_agent("alice")
    call = waiting_call(twilio)
    with mock.patch("voiceconfig.calls.agent_leave_call", return_value=False) as agent_leg_left:
        twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=alice, seq=2)
        agent_leg_left.assert_not_called()
        twilio.leg(call.call_sid, call.agent_call_sid, "completed", agent=alice, seq=3)
    agent_leg_left.assert_called_once_with(call_sid=call.call_sid, leg_sid=call.agent_call_sid, agent_id=alice.pk)
