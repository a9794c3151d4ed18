"""A transfer nobody answers, end to end through the participant callback, against a fake gateway.

Warm: the call goes back to the agent who stayed. Cold: the caller rejoins the queue in their original place, waits
on hold with the queue music (the queue-wait URL, whose fetches retry routing and check the maximum wait), the next
free agent is rung and the caller is taken off hold when that agent answers.
"""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from tests.conftest import api_client_for
from tests.console_support import (
    CONFERENCE_SID,
    connected_call,
    install_fake_gateway,
    make_available,
    snapshot,
    waiting_call,
)
from tests.twilio.fixtures import twiml_of, verbs
from tests.twilio.signing import TEST_SERVER, twilio_signature
from voiceconfig import calls as call_services
from voiceconfig.models import AgentStatus, Call, CallEvent, CallLog, CallStage, CallStatus, VoiceAgent
from voicetwilio import gateway
from voicetwilio.links import RETRY_OVERRIDES

QUEUE_WAIT = f"{TEST_SERVER}/voicetwilio/queuewait?callSid="


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


@pytest.fixture
def call(agent, line):
    return connected_call(agent=agent, line=line)


@pytest.fixture
def carol(make_agent):
    return make_agent("carol")


def transfer(client, call, **body) -> str:
    """Transfer from the console; returns the new party's leg."""
    response = client.post(f"/voicetwilio/calls/{call.pk}:transfer", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["transfer"]["participantCallSid"]


def sent_since(fake_gateway, mark: int) -> list[tuple[str, dict]]:
    return fake_gateway.sent[mark:]


def routing_messages(call) -> list[str]:
    return list(
        CallLog.objects.filter(call=call, event=CallEvent.ROUTING).order_by("id").values_list("message", flat=True)
    )


def status_of(agent: VoiceAgent) -> str:
    agent.refresh_from_db()
    return agent.status


def fetch_hold_music(client, call_sid: str):
    """Twilio fetching the participant's HoldUrl: a GET (our gateway asks for HoldMethod=GET), fields in the query."""
    url = f"{QUEUE_WAIT}{call_sid}&" + urlencode(
        {"AccountSid": "AC" + "0" * 31 + "1", "CallSid": call_sid, "ConferenceSid": CONFERENCE_SID}
    )
    return client.get(url[len(TEST_SERVER) :], HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, {}))


# --- warm: back to the agent who stayed ------------------------------------------------------------------


@pytest.mark.parametrize("destination", ["client", "phonenumber"])
def test_a_warm_transfer_nobody_answers_goes_back_to_the_agent_who_stayed(
    agent, other_agent, agent_client, call, fake_gateway, twilio, destination
):
    make_available(other_agent)
    alice_leg = call.agent_call_sid
    to = "bob" if destination == "client" else "+442071838750"
    new_leg = transfer(agent_client, call, type=destination, to=to, mode="warm")
    mark = len(fake_gateway.sent)

    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer", agent=other_agent if destination == "client" else None))

    # Alice's leaving ends the conference again, as it did before the transfer; nothing else is asked of Twilio.
    assert sent_since(fake_gateway, mark) == [
        (
            "set_participant_ends_conference",
            {"conference_sid": CONFERENCE_SID, "call_sid": alice_leg, "end_conference_on_exit": True},
        )
    ]
    call.refresh_from_db()
    assert (call.agent, call.agent_call_sid, call.stage, call.requeued_at) == (
        agent,
        alice_leg,
        CallStage.CONNECTED,
        None,
    )
    assert status_of(agent) == AgentStatus.IN_CALL
    assert status_of(other_agent) == AgentStatus.AVAILABLE
    assert routing_messages(call)[-1] == "Transfer #1 was not answered: alice keeps the call."
    # Alice may act on the call again.
    assert agent_client.post(f"/voicetwilio/calls/{call.pk}:onhold").status_code == 200


def test_a_warm_transfer_goes_back_to_the_agent_even_if_twilio_fails_to_restore_the_conference_ending(
    agent, other_agent, agent_client, call, fake_gateway, twilio
):
    make_available(other_agent)
    new_leg = transfer(agent_client, call, type="client", to="bob", mode="warm")
    fake_gateway.fail("set_participant_ends_conference")

    twiml_of(twilio.leg(call.call_sid, new_leg, "busy", agent=other_agent))

    call.refresh_from_db()
    assert call.agent == agent
    assert status_of(other_agent) == AgentStatus.AVAILABLE


# --- cold: the caller back in the queue --------------------------------------------------------------------


def test_after_a_cold_transfer_rings_out_the_caller_is_requeued_on_hold_and_the_next_agent_rung(
    agent, other_agent, agent_client, call, fake_gateway, twilio, line
):
    queued_at = call.queued_at
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent)
    mark = len(fake_gateway.sent)

    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))

    [hold, ring] = sent_since(fake_gateway, mark)
    assert hold == (
        "set_participant_hold",
        {
            "conference_sid": CONFERENCE_SID,
            "call_sid": call.call_sid,
            "hold": True,
            "hold_url": f"{QUEUE_WAIT}{call.call_sid}",
        },
    )
    assert ring[0] == "add_participant"
    assert ring[1]["to"] == "client:bob"
    assert ring[1]["conference_name"] == call.conference_name
    assert ring[1]["status_callback_url"].endswith(f"?callSid={call.call_sid}&agent={other_agent.pk}#{RETRY_OVERRIDES}")
    call.refresh_from_db()
    bob_leg = call.agent_call_sid
    assert (call.stage, call.agent, call.queued_at, call.on_hold) == (CallStage.QUEUED, other_agent, queued_at, False)
    assert call.requeued_at is not None
    assert status_of(other_agent) == AgentStatus.RINGING
    assert status_of(agent) == AgentStatus.WRAP_UP  # alice passed the call on: she is not rung again
    assert "Transfer #1 was not answered: the caller waits for the next agent." in routing_messages(call)

    # Twilio fetches the hold URL: the queue music, and back for more; bob is already ringing, so nobody else is.
    mark = len(fake_gateway.sent)
    root = twiml_of(fetch_hold_music(twilio.client, call.call_sid))
    assert verbs(root) == ["Play", "Redirect"]
    assert root.find("Redirect").text == f"{QUEUE_WAIT}{call.call_sid}"
    assert sent_since(fake_gateway, mark) == []

    # Bob answers: the caller comes off hold to talk to him.
    twiml_of(twilio.leg(call.call_sid, bob_leg, "in-progress", agent=other_agent))

    assert sent_since(fake_gateway, mark) == [
        ("set_participant_hold", {"conference_sid": CONFERENCE_SID, "call_sid": call.call_sid, "hold": False})
    ]
    call.refresh_from_db()
    assert (call.stage, call.agent, call.agent_call_sid, call.on_hold) == (
        CallStage.CONNECTED,
        other_agent,
        bob_leg,
        False,
    )
    assert status_of(other_agent) == AgentStatus.IN_CALL
    # Bob may hold, resume and transfer it as any call of his.
    assert api_client_for(other_agent.user).post(f"/voicetwilio/calls/{call.pk}:onhold").status_code == 200


def test_the_agent_who_let_a_cold_transfer_ring_out_is_not_rung_again_at_once(
    agent, other_agent, agent_client, call, fake_gateway, twilio
):
    make_available(other_agent)
    new_leg = transfer(agent_client, call, type="client", to="bob")
    mark = len(fake_gateway.sent)

    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer", agent=other_agent))

    assert [name for name, _ in sent_since(fake_gateway, mark)] == ["set_participant_hold"]
    call.refresh_from_db()
    assert (call.stage, call.agent) == (CallStage.QUEUED, None)
    assert status_of(other_agent) == AgentStatus.AVAILABLE
    # The next hold-music fetch retries routing, and then bob (the only one free) may be rung again.
    twiml_of(fetch_hold_music(twilio.client, call.call_sid))
    assert fake_gateway.kwargs("add_participant")[-1]["to"] == "client:bob"


def test_a_requeued_caller_waits_on_the_queue_music_until_an_agent_is_free(
    agent, carol, agent_client, call, fake_gateway, twilio
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))
    assert fake_gateway.names()[-1] == "set_participant_hold"  # nobody free: nobody rung
    twiml_of(fetch_hold_music(twilio.client, call.call_sid))
    assert fake_gateway.names()[-1] == "set_participant_hold"

    make_available(carol)
    twiml_of(fetch_hold_music(twilio.client, call.call_sid))

    assert fake_gateway.kwargs("add_participant")[-1]["to"] == "client:carol"
    call.refresh_from_db()
    assert call.agent == carol


def test_the_maximum_wait_of_a_requeued_caller_counts_from_the_requeue(
    agent, agent_client, call, config, fake_gateway, twilio
):
    config.max_queue_wait_seconds = 60
    config.save()
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))

    # Queued 100 s ago (before talking to alice), but back in the queue only now: they keep waiting.
    twiml_of(fetch_hold_music(twilio.client, call.call_sid))
    assert fake_gateway.kwargs("redirect_call") == []

    Call.objects.filter(pk=call.pk).update(requeued_at=timezone.now() - timedelta(seconds=61))
    twiml_of(fetch_hold_music(twilio.client, call.call_sid))

    assert fake_gateway.kwargs("redirect_call") == [
        {"call_sid": call.call_sid, "url": f"{TEST_SERVER}/voicetwilio/voicemail?callSid={call.call_sid}"}
    ]
    call.refresh_from_db()
    assert call.stage == CallStage.VOICEMAIL


def test_when_the_next_agent_lets_a_requeued_caller_ring_out_the_one_after_is_rung(
    agent, other_agent, carol, agent_client, call, fake_gateway, twilio
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent, last_call_ended_at=timezone.now() - timedelta(minutes=10))
    make_available(carol, last_call_ended_at=timezone.now() - timedelta(minutes=5))
    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))
    call.refresh_from_db()
    assert call.agent == other_agent

    twiml_of(twilio.leg(call.call_sid, call.agent_call_sid, "no-answer", agent=other_agent))

    call.refresh_from_db()
    assert (call.agent, call.stage) == (carol, CallStage.QUEUED)
    assert fake_gateway.kwargs("add_participant")[-1]["to"] == "client:carol"
    assert status_of(other_agent) == AgentStatus.AVAILABLE


def test_a_requeued_caller_who_hangs_up_frees_the_agent_ringing_for_them(
    agent, other_agent, agent_client, call, fake_gateway, twilio
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent)
    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))
    call.refresh_from_db()
    bob_leg = call.agent_call_sid

    twiml_of(twilio.status(call.call_sid, "completed", seq=9))

    assert fake_gateway.kwargs("end_call") == [{"call_sid": bob_leg}]  # his phone stops ringing
    assert status_of(other_agent) == AgentStatus.AVAILABLE
    call.refresh_from_db()
    assert (call.status, call.stage, call.agent) == (CallStatus.COMPLETED, CallStage.ABANDONED, None)


# --- duplicates and out-of-order callbacks ---------------------------------------------------------------


def test_the_same_news_twice_or_late_changes_nothing_more(agent, other_agent, agent_client, call, fake_gateway, twilio):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent)
    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer", seq=3))
    before, sent = snapshot(), len(fake_gateway.sent)

    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer", seq=3))  # the same callback again
    twiml_of(twilio.leg(call.call_sid, new_leg, "ringing", seq=2))  # an older one, late

    assert len(fake_gateway.sent) == sent
    after = snapshot()
    assert after["calls"] == before["calls"] and after["agents"] == before["agents"]
    assert [row for row in after["logs"] if row not in before["logs"]] == [
        row for row in after["logs"] if row["dedupe_key"] == f"leg:{new_leg}:ringing:2"
    ]

    # Once bob has answered, the old news still changes nothing: no second hold, no requeue.
    call.refresh_from_db()
    twiml_of(twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=other_agent, seq=2))
    twiml_of(twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=other_agent, seq=2))
    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer", seq=3))
    assert [kwargs["hold"] for kwargs in fake_gateway.kwargs("set_participant_hold")] == [True, False]
    call.refresh_from_db()
    assert (call.stage, call.agent) == (CallStage.CONNECTED, other_agent)


def test_a_transfer_leg_reported_failed_and_then_canceled_is_decided_once(
    agent, other_agent, agent_client, call, fake_gateway, twilio
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent)

    twiml_of(twilio.leg(call.call_sid, new_leg, "failed", seq=3))
    twiml_of(twilio.leg(call.call_sid, new_leg, "canceled", seq=4))

    assert fake_gateway.names().count("set_participant_hold") == 1
    assert [kwargs["to"] for kwargs in fake_gateway.kwargs("add_participant")] == ["+14155550123", "client:bob"]
    assert CallLog.objects.filter(call=call, dedupe_key=f"transfer-unanswered:{new_leg}").count() == 1


# --- Twilio failing during the fallback ------------------------------------------------------------------


def test_if_twilio_cannot_hold_the_requeued_caller_the_next_agent_is_still_rung(
    agent, other_agent, agent_client, call, fake_gateway, twilio, caplog
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent)
    fake_gateway.fail("set_participant_hold")

    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))  # 200 with valid TwiML, not a 500

    call.refresh_from_db()
    assert (call.stage, call.agent) == (CallStage.QUEUED, other_agent)
    note = CallLog.objects.get(call=call, event=CallEvent.NOTE)
    assert note.message.startswith("Could not play the queue music to the caller: Twilio said no")
    assert "could not play the queue music" in caplog.text


def test_if_twilio_fails_both_to_hold_and_to_ring_the_caller_keeps_their_place(
    agent, other_agent, agent_client, call, fake_gateway, twilio, line
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent)
    fake_gateway.fail("set_participant_hold")
    fake_gateway.fail("add_participant")

    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))

    call.refresh_from_db()
    assert (call.stage, call.agent) == (CallStage.QUEUED, None)
    assert status_of(other_agent) == AgentStatus.AVAILABLE
    assert "Could not ring agent Bob" in routing_messages(call)[-1]
    # The next agent offered a call gets the longest-waiting caller: this one, ahead of a caller who came later.
    waiting_call(line=line, n=77, waited=30)
    assert call_services.waiting_calls(agent=other_agent).first() == call


def test_if_twilio_cannot_take_the_caller_off_hold_the_agent_can_resume_them(
    agent, other_agent, agent_client, call, fake_gateway, twilio
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(other_agent)
    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))
    call.refresh_from_db()
    fake_gateway.fail("set_participant_hold")

    twiml_of(twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=other_agent))

    call.refresh_from_db()
    assert call.stage == CallStage.CONNECTED and call.on_hold is True
    held = CallLog.objects.filter(call=call, event=CallEvent.HOLD).last()
    assert held.message.startswith("The caller is still on the queue music: Twilio said no")
    fake_gateway.failing.clear()
    response = api_client_for(other_agent.user).post(f"/voicetwilio/calls/{call.pk}:resume")
    assert response.status_code == 200 and response.json()["onHold"] is False
    assert fake_gateway.kwargs("set_participant_hold")[-1]["hold"] is False


def test_a_requeued_caller_whose_new_agent_answers_before_the_hold_reaches_twilio_is_not_left_on_hold(
    agent, carol, agent_client, call, fake_gateway, twilio, monkeypatch
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123")
    make_available(carol)
    hold_at_twilio = gateway.set_participant_hold
    raced = []

    def slow_hold(**kwargs):
        if kwargs["hold"] and not raced:
            raced.append(True)
            # While our hold request is on its way, another request (a hold-music fetch) rings carol, she answers,
            # and her answer takes the caller off hold: all of it reaches Twilio before our hold does.
            twiml_of(fetch_hold_music(twilio.client, call.call_sid))
            carol_leg = Call.objects.get(pk=call.pk).agent_call_sid
            twiml_of(twilio.leg(call.call_sid, carol_leg, "in-progress", agent=carol))
        hold_at_twilio(**kwargs)

    monkeypatch.setattr(gateway, "set_participant_hold", slow_hold)

    twiml_of(twilio.leg(call.call_sid, new_leg, "no-answer"))

    assert raced
    holds = [sent["hold"] for name, sent in fake_gateway.sent if name == "set_participant_hold"]
    assert holds == [False, True, False]  # carol's answer, our late hold, and the hold taken off again
    call.refresh_from_db()
    assert (call.stage, call.agent, call.on_hold) == (CallStage.CONNECTED, carol, False)
    assert status_of(carol) == AgentStatus.IN_CALL
