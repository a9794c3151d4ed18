"""`ring-all` departments (issue 16): every free member rung at once, the first to answer gets the caller, the
others' legs are cancelled and they are free at once; the routing cost does not grow with the members."""

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import api_client_for
from tests.test_department_routing import department, waiting_call
from tests.twilio.payloads import sid
from voiceconfig import calls as call_services
from voiceconfig.calls.ringall import ring_offers_cancel
from voiceconfig.models import Call, RingOffer, VoiceAgent
from voicetwilio import gateway

pytestmark = pytest.mark.django_db


def rung_legs(twilio_gateway) -> dict[str, dict]:
    """What the gateway was asked to ring: agent identity -> the add-participant call's arguments."""
    rung = {}
    for call in twilio_gateway.add_participant.call_args_list:
        rung[call.kwargs["to"].removeprefix("client:")] = call.kwargs
    return rung


def leg_of(call: Call, agent: VoiceAgent) -> str:
    return RingOffer.objects.filter(call=call, agent=agent).latest("id").leg_call_sid


def status_of(*agents: VoiceAgent) -> list[str]:
    return [VoiceAgent.objects.get(pk=agent.pk).status for agent in agents]


@pytest.fixture
def ring_all(line, online_agent):
    """A ring-all department of three free members, with a free agent outside it and a busy member."""
    members = [online_agent(f"ra{i}") for i in range(3)]
    busy = online_agent("busy", status="unavailable")
    online_agent("outsider", last_call_ended_at=None)  # idle longest, but not a member
    line.default_department = department("All hands", [*members, busy], strategy="ring-all")
    line.save()
    return members


def test_every_free_member_is_rung_at_once_and_nobody_else(twilio, ring_all, twilio_gateway):
    call = waiting_call(twilio)

    rung = rung_legs(twilio_gateway)
    assert sorted(rung) == ["ra0", "ra1", "ra2"]
    for kwargs in rung.values():
        query = parse_qs(urlsplit(kwargs["status_callback_url"]).query)
        assert query["ringAll"] == ["1"] and query["callSid"] == [call.call_sid]
        # A member answering a moment after the winner must not end the caller's conference when hung up.
        assert kwargs["end_conference_on_exit"] is False
    assert call.agent is None and call.stage == "queued"
    assert status_of(*ring_all) == ["ringing"] * 3
    assert RingOffer.objects.filter(call=call, state="ringing").count() == 3


def test_the_first_to_answer_gets_the_caller_and_the_others_are_cancelled_and_free(twilio, ring_all, twilio_gateway):
    first, second, third = ring_all
    call = waiting_call(twilio)
    legs = {agent: leg_of(call, agent) for agent in ring_all}

    twilio.leg(call.call_sid, legs[second], "in-progress", agent=second, ring_all=True)

    call.refresh_from_db()
    assert (call.agent, call.agent_call_sid, call.stage) == (second, legs[second], "connected")
    assert status_of(first, second, third) == ["available", "in_call", "available"]
    hung_up = sorted(c.kwargs["call_sid"] for c in twilio_gateway.end_call.call_args_list)
    assert hung_up == sorted([legs[first], legs[third]])
    twilio_gateway.set_participant_ends_conference.assert_called_once_with(
        conference_sid=call.conference_sid, call_sid=legs[second], end_conference_on_exit=True
    )
    # The cancelled legs report in: nothing changes; a late answer is hung up and takes nothing.
    twilio.leg(call.call_sid, legs[third], "canceled", agent=third, ring_all=True)
    twilio.leg(call.call_sid, legs[first], "in-progress", agent=first, ring_all=True)
    call.refresh_from_db()
    assert call.agent == second
    assert status_of(first, second, third) == ["available", "in_call", "available"]
    assert twilio_gateway.end_call.call_args_list[-1].kwargs["call_sid"] == legs[first]


def test_the_winners_call_ends_as_any_agents_call(twilio, ring_all, twilio_gateway, config):
    config.wrap_up_seconds = 0
    config.save()
    call = waiting_call(twilio)
    winner = ring_all[0]
    twilio.leg(call.call_sid, leg_of(call, winner), "in-progress", agent=winner, ring_all=True)
    twilio.leg(call.call_sid, leg_of(call, winner), "completed", agent=winner, ring_all=True)
    twilio.status(call.call_sid, "completed", CallDuration="30")

    call.refresh_from_db()
    assert (call.agent, call.stage, call.status) == (winner, "connected", "completed")
    assert status_of(winner) == ["wrap_up"]


def test_a_member_being_rung_is_offered_no_other_call_and_the_call_no_other_agent(
    twilio, line, ring_all, online_agent, twilio_gateway
):
    call = waiting_call(twilio)
    second_caller = waiting_call(twilio)  # every member is ringing for the first
    assert second_caller.agent is None
    assert len(twilio_gateway.add_participant.call_args_list) == 3

    # A member who comes free meanwhile is rung for the next caller, not added to the one being rung.
    late = online_agent("late")
    line.default_department.members.create(agent=late, level=1, position=9)
    twilio.queue_wait(call.call_sid)
    assert list(RingOffer.objects.filter(agent=late).values_list("call", flat=True)) == [second_caller.pk]
    assert RingOffer.objects.filter(call=call).count() == 3
    assert call_services.call_offer_to_agent(agent=late) is None  # ringing: offered nothing else


def test_when_nobody_answers_the_caller_keeps_waiting_and_is_rung_again(twilio, ring_all, twilio_gateway):
    call = waiting_call(twilio)
    for agent in ring_all:
        twilio.leg(call.call_sid, leg_of(call, agent), "no-answer", agent=agent, ring_all=True)

    call.refresh_from_db()
    assert (call.agent, call.stage) == (None, "queued")
    assert status_of(*ring_all) == ["available"] * 3
    assert twilio_gateway.end_call.call_count == 0

    twilio.queue_wait(call.call_sid)  # the next round of hold music routes again: everyone rings again
    assert len(twilio_gateway.add_participant.call_args_list) == 6
    assert status_of(*ring_all) == ["ringing"] * 3


def test_the_caller_hanging_up_cancels_every_leg_and_frees_the_members(twilio, ring_all, twilio_gateway):
    call = waiting_call(twilio)
    legs = sorted(leg_of(call, agent) for agent in ring_all)

    twilio.status(call.call_sid, "completed")

    call.refresh_from_db()
    assert call.stage == "abandoned"
    assert sorted(c.kwargs["call_sid"] for c in twilio_gateway.end_call.call_args_list) == legs
    assert status_of(*ring_all) == ["available"] * 3
    assert not RingOffer.objects.filter(state="ringing").exists()


@pytest.mark.postgres
def test_on_postgresql_the_hang_up_still_costs_one_statement_with_members_ringing(twilio, ring_all, twilio_gateway):
    call = waiting_call(twilio)
    with CaptureQueriesContext(connection) as queries:
        result = call_services.call_apply_status(call_sid=call.call_sid, status="completed")

    assert len(queries) == 1  # the status statement cancels the offers and frees their members itself
    assert sorted(result.legs_to_cancel) == sorted(leg_of(call, agent) for agent in ring_all)
    assert status_of(*ring_all) == ["available"] * 3


def test_the_maximum_wait_does_not_take_a_caller_away_from_ringing_members(twilio, config, ring_all, twilio_gateway):
    config.max_queue_wait_seconds = 0
    config.save()
    call = waiting_call(twilio)
    twilio.queue_wait(call.call_sid)

    call.refresh_from_db()
    assert call.stage == "queued"
    twilio_gateway.redirect_call.assert_not_called()


def test_a_member_twilio_will_not_ring_is_free_again_and_the_others_ring(twilio, ring_all, twilio_gateway):
    refused = ring_all[1]

    def participant(**kwargs):
        if kwargs["to"] == f"client:{refused.identity}":
            raise gateway.GatewayError("Twilio refused", twilio_status=400)
        return gateway.Participant(call_sid=sid("CA", 0xB0000 + len(kwargs["to"])), conference_sid=sid("CF", 2))

    twilio_gateway.add_participant.side_effect = participant
    call = waiting_call(twilio)

    assert status_of(*ring_all) == ["ringing", "available", "ringing"]
    assert RingOffer.objects.get(call=call, agent=refused).state == "missed"
    call.refresh_from_db()
    assert call.conference_sid == sid("CF", 2)


def test_a_leg_cancelled_before_its_sid_was_known_is_hung_up_when_recorded(twilio, ring_all, twilio_gateway):
    call = waiting_call(twilio)
    offer = RingOffer.objects.get(call=call, agent=ring_all[0])
    RingOffer.objects.filter(pk=offer.pk).update(leg_call_sid="")
    ring_offers_cancel(call=call)  # the caller left while Twilio was still answering our participant request
    stale = call_services.ring_offers_record(call=call, legs={offer.pk: "CAlate"}, conference_sid="", failed=[])

    assert stale == ["CAlate"]


def test_a_ring_all_rings_the_best_level_with_a_free_member(twilio, line, online_agent, twilio_gateway):
    best, also_best, worse = online_agent("best"), online_agent("also"), online_agent("worse")
    line.default_department = department("Levels", [best, also_best, worse], strategy="ring-all", levels={worse.pk: 2})
    line.save()

    waiting_call(twilio)
    assert sorted(rung_legs(twilio_gateway)) == ["also", "best"]
    waiting_call(twilio)  # both best are ringing: the next caller gets the next level
    assert "worse" in rung_legs(twilio_gateway)


# --- PostgreSQL: two members answering in the same instant ---------------------------------------------------

ROUNDS = 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_members_answering_at_once_one_gets_the_caller_the_other_is_hung_up_and_free(
    twilio, line, online_agent, twilio_gateway, config
):
    config.wrap_up_seconds = 0
    config.save()
    pair = [online_agent("left"), online_agent("right")]
    line.default_department = department("Race", pair, strategy="ring-all")
    line.save()
    winners, double = [], 0
    for _ in range(ROUNDS):
        call = waiting_call(twilio)
        legs = {agent.pk: leg_of(call, agent) for agent in pair}
        start = threading.Barrier(2)
        results = {}

        def answer(agent_id: int, call_sid=call.call_sid, legs=legs, start=start, results=results) -> None:
            try:
                start.wait()
                results[agent_id] = call_services.call_apply_leg_event(
                    call_sid=call_sid, leg_sid=legs[agent_id], agent_id=agent_id, status="in-progress", ring_offer=True
                )
            finally:
                connection.close()  # each thread had its own connection

        threads = [threading.Thread(target=answer, args=(agent.pk,)) for agent in pair]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        won = [agent_id for agent_id, result in results.items() if result.ring_all_won]
        lost = [result.hang_up_leg for result in results.values() if not result.ring_all_won]
        assert len(won) == 1 and len(lost) == 1
        call.refresh_from_db()
        assert call.agent_id == won[0]
        loser = next(agent for agent in pair if agent.pk != won[0])
        assert lost == [legs[loser.pk]]
        assert status_of(loser) == ["available"]
        double += Call.objects.active().filter(agent__isnull=False).values("agent").distinct().count() != (
            Call.objects.active().filter(agent__isnull=False).count()
        )
        winners.append(won[0])
        twilio.status(call.call_sid, "completed", CallDuration="5")  # wrap-up 0 s: both free for the next round
    assert double == 0
    assert RingOffer.objects.filter(state="answered").count() == ROUNDS
    assert RingOffer.objects.filter(state="ringing").count() == 0


# --- the rung member's console ------------------------------------------------------------------------------


@pytest.fixture
def rung_member(twilio, line, online_agent, twilio_gateway):
    member = online_agent("console")
    line.default_department = department("Console", [member], strategy="ring-all")
    line.save()
    call = waiting_call(twilio)
    return member, call


def test_a_member_rung_by_a_ring_all_sees_the_caller_ringing_in_the_console(rung_member):
    member, call = rung_member
    client = api_client_for(member.user)

    body = client.post(f"/voicetwilio/agent/{member.pk}/heartbeats").json()

    assert body["status"] == "ringing"
    assert body["call"]["callSid"] == call.call_sid and body["call"]["state"] == "ringing"


def test_a_member_rung_by_a_ring_all_cannot_choose_another_status_meanwhile(rung_member):
    member, call = rung_member
    client = api_client_for(member.user)

    answer = client.post(f"/voicetwilio/agent/{member.pk}/status", {"status": "offline"}, format="json")

    assert answer.status_code == 409, answer.content
    assert set(answer.json()) >= {"error", "message"}
    assert status_of(member) == ["ringing"]
