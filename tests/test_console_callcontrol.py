"""Hold, resume and transfer from the agent console (decisions 4 and 9), against a fake gateway.

What goes over the wire to Twilio is proven in tests/contract; here: who may act, what state allows it,
what is asked of the gateway, and what the database remembers.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import api_client_for
from tests.console_support import CONFERENCE_SID, connected_call, install_fake_gateway, make_available
from tests.twilio.payloads import sid
from voiceconfig import calls as call_services
from voiceconfig.models import AgentStatus, Call, CallEvent, CallLog, CallStatus, VoiceAgent, VoiceConfig
from voicetwilio import callcontrol
from voicetwilio.links import RETRY_OVERRIDES


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


@pytest.fixture
def call(agent, line):
    return connected_call(agent=agent, line=line)


def hold(client, call, **body):
    return client.post(f"/voicetwilio/calls/{call.pk}:onhold", body, format="json")


def resume(client, call, **body):
    return client.post(f"/voicetwilio/calls/{call.pk}:resume", body, format="json")


def transfer(client, call, **body):
    return client.post(f"/voicetwilio/calls/{call.pk}:transfer", body, format="json")


def logs(call, event):
    return list(CallLog.objects.filter(call=call, event=event).order_by("id"))


# --- hold and resume ---------------------------------------------------------------------------------------


def test_the_agent_puts_their_caller_on_hold_with_the_lines_hold_music(agent_client, call, fake_gateway, config):
    response = hold(agent_client, call)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "id": call.pk,
        "callSid": call.call_sid,
        "status": "in-progress",
        "agent": call.agent_id,
        "onHold": True,
        "holdSeconds": 0,
        "changed": True,
    }
    assert fake_gateway.sent == [
        (
            "set_participant_hold",
            {
                "conference_sid": CONFERENCE_SID,
                "call_sid": call.call_sid,
                "hold": True,
                "hold_url": config.hold_music_url,
            },
        )
    ]
    call.refresh_from_db()
    assert call.on_hold and call.hold_started_at is not None
    [entry] = logs(call, CallEvent.HOLD)
    assert entry.data["by"] == "alice"


def test_the_hold_music_is_the_one_configured_for_the_line(agent_client, call, fake_gateway, config):
    VoiceConfig.objects.filter(pk=config.pk).update(hold_music_url="https://cdn.example.com/calm.mp3")

    hold(agent_client, call)

    assert fake_gateway.kwargs("set_participant_hold")[0]["hold_url"] == "https://cdn.example.com/calm.mp3"


def test_a_call_can_be_named_by_its_callsid(agent_client, call, fake_gateway):
    response = agent_client.post(f"/voicetwilio/calls/{call.call_sid}:onhold", {}, format="json")

    assert response.status_code == 200
    assert response.json()["onHold"] is True


def test_holding_twice_is_harmless(agent_client, call, fake_gateway):
    hold(agent_client, call)
    again = hold(agent_client, call)

    assert again.status_code == 200
    assert again.json()["changed"] is False and again.json()["onHold"] is True
    assert fake_gateway.names() == ["set_participant_hold"]
    assert len(logs(call, CallEvent.HOLD)) == 1


def test_resuming_adds_the_time_on_hold_to_the_call(agent_client, call, fake_gateway):
    Call.objects.filter(pk=call.pk).update(on_hold=True, hold_started_at=timezone.now() - timedelta(seconds=30))

    response = resume(agent_client, call)

    assert response.status_code == 200
    assert response.json()["onHold"] is False
    assert response.json()["holdSeconds"] == 30
    assert fake_gateway.sent == [
        ("set_participant_hold", {"conference_sid": CONFERENCE_SID, "call_sid": call.call_sid, "hold": False})
    ]
    [entry] = logs(call, CallEvent.RESUME)
    assert entry.data["heldSeconds"] == 30


def test_hold_time_accumulates_over_several_holds(agent_client, call, fake_gateway):
    Call.objects.filter(pk=call.pk).update(hold_seconds=30)
    hold(agent_client, call)
    Call.objects.filter(pk=call.pk).update(hold_started_at=timezone.now() - timedelta(seconds=12))

    assert resume(agent_client, call).json()["holdSeconds"] == 42
    call.refresh_from_db()
    assert call.hold_seconds == 42 and call.hold_started_at is None


def test_resuming_a_call_not_on_hold_is_harmless(agent_client, call, fake_gateway):
    response = resume(agent_client, call)

    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert fake_gateway.sent == []
    assert logs(call, CallEvent.RESUME) == []


def test_staff_may_hold_any_call(staff_client, call, fake_gateway):
    assert hold(staff_client, call).status_code == 200


def test_another_agent_cannot_see_the_call(other_agent, call, fake_gateway):
    response = hold(api_client_for(other_agent.user), call)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert fake_gateway.sent == []


def test_an_unknown_call_is_404(agent_client, fake_gateway, db):
    assert agent_client.post("/voicetwilio/calls/999999:onhold").status_code == 404
    assert agent_client.post(f"/voicetwilio/calls/{sid('CA', 77)}:resume").status_code == 404


@pytest.mark.parametrize("ref", ["CA" + "A" * 32, "CAxyz", "1" * 19, "7:hold", "abc"])
def test_malformed_call_references_are_json_404s(agent_client, ref, db):
    response = agent_client.post(f"/voicetwilio/calls/{ref}:onhold")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_callsid_in_the_body_must_be_the_calls(agent_client, call, fake_gateway):
    wrong = hold(agent_client, call, callSid=sid("CA", 99))
    malformed = hold(agent_client, call, callSid="CA123")
    right = hold(agent_client, call, callSid=call.call_sid)

    assert wrong.status_code == 400 and "callSid" in wrong.json()["message"]
    assert malformed.status_code == 400
    assert right.status_code == 200


def test_an_ended_call_cannot_be_held(agent_client, call, fake_gateway):
    Call.objects.filter(pk=call.pk).update(status=CallStatus.COMPLETED)

    response = hold(agent_client, call)

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert "ended" in response.json()["message"]
    assert fake_gateway.sent == []


def test_a_call_still_ringing_the_agent_cannot_be_held(agent, agent_client, call, fake_gateway):
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING)

    response = hold(agent_client, call)

    assert response.status_code == 409
    assert "ringing" in response.json()["message"]


def test_call_control_needs_authentication(call):
    assert APIClient().post(f"/voicetwilio/calls/{call.pk}:onhold").status_code == 401


def test_a_twilio_failure_on_hold_is_a_502_and_nothing_is_recorded(agent_client, call, fake_gateway):
    fake_gateway.fail("set_participant_hold", "Twilio refused to put the caller on hold (HTTP 404): not found")

    response = hold(agent_client, call)

    assert response.status_code == 502
    assert response.json() == {
        "error": "twilio_error",
        "message": "Twilio refused to put the caller on hold (HTTP 404): not found",
        "twilioCode": 20404,
        "twilioStatus": 404,
    }
    call.refresh_from_db()
    assert not call.on_hold and logs(call, CallEvent.HOLD) == []


# --- transfer ----------------------------------------------------------------------------------------------


def test_a_cold_transfer_to_a_number_adds_it_and_takes_the_agent_out(agent, agent_client, call, fake_gateway, line):
    agent_leg = call.agent_call_sid

    response = transfer(agent_client, call, type="phonenumber", to="+1 415 555 0123")

    assert response.status_code == 200, response.json()
    assert fake_gateway.names() == ["add_participant", "set_participant_ends_conference", "remove_participant"]
    added = fake_gateway.kwargs("add_participant")[0]
    assert added["conference_name"] == CONFERENCE_SID
    assert added["to"] == "+14155550123"
    assert added["from_"] == line.phone_number
    assert added["label"] == "transfer"
    assert added["end_conference_on_exit"] is True
    assert added["timeout_seconds"] == line.config.ring_timeout_seconds
    row = call.transfers.get()
    assert added["status_callback_url"] == (
        f"http://testserver/voicetwilio/participantcallback?callSid={call.call_sid}&transfer={row.pk}#{RETRY_OVERRIDES}"
    )
    assert fake_gateway.kwargs("set_participant_ends_conference") == [
        {"conference_sid": CONFERENCE_SID, "call_sid": agent_leg, "end_conference_on_exit": False}
    ]
    assert fake_gateway.kwargs("remove_participant") == [{"conference_sid": CONFERENCE_SID, "call_sid": agent_leg}]
    body = response.json()
    assert body["agent"] is None
    assert body["transfer"] == {
        "id": row.pk,
        "state": "ringing",
        "step": 1,
        "type": "phonenumber",
        "to": "+14155550123",
        "mode": "cold",
        "fromAgent": agent.pk,
        "toAgent": None,
        "participantCallSid": sid("CA", 5001),
        "previousAgentCallSid": agent_leg,
    }
    call.refresh_from_db()
    assert call.agent is None and call.agent_call_sid == ""
    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP
    assert agent.wrap_up_until is not None and agent.last_call_ended_at is not None
    [entry] = logs(call, CallEvent.TRANSFER)
    assert entry.message == "Cold transfer #1: agent alice passed the call to +14155550123"
    assert logs(call, CallEvent.AGENT)[0].message == "Agent alice left the call (cold transfer #1)"
    row.refresh_from_db()
    assert (row.state, row.mode, row.target_type, row.target) == ("ringing", "cold", "phonenumber", "+14155550123")
    assert (row.from_agent, row.to_agent, row.from_leg_sid, row.leg_sid) == (agent, None, agent_leg, sid("CA", 5001))
    assert row.conference_sid == CONFERENCE_SID


def test_a_cold_transfer_to_an_agent_reserves_and_rings_them(agent, other_agent, agent_client, call, fake_gateway):
    make_available(other_agent)

    response = transfer(agent_client, call, type="client", to="bob")

    assert response.status_code == 200, response.json()
    added = fake_gateway.kwargs("add_participant")[0]
    assert added["to"] == "client:bob"
    assert added["label"] == "agent"
    transfer_id = call.transfers.get().pk
    assert added["status_callback_url"].endswith(
        f"?callSid={call.call_sid}&transfer={transfer_id}&agent={other_agent.pk}#{RETRY_OVERRIDES}"
    )
    call.refresh_from_db()
    # Reserved as routing reserves: the call's agent, ringing, their leg attached for the participant callbacks.
    assert call.agent == other_agent
    assert call.agent_call_sid == sid("CA", 5001)
    other_agent.refresh_from_db()
    assert other_agent.status == AgentStatus.RINGING
    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP
    assert response.json()["transfer"]["toAgent"] == other_agent.pk
    assert response.json()["agent"] == other_agent.pk


@pytest.mark.parametrize("spelling", ["client:bob", "bob", "id"])
def test_the_receiving_agent_may_be_named_by_identity_or_id(other_agent, agent_client, call, fake_gateway, spelling):
    make_available(other_agent)
    to = str(other_agent.pk) if spelling == "id" else spelling

    assert transfer(agent_client, call, type="client", to=to).status_code == 200
    assert fake_gateway.kwargs("add_participant")[0]["to"] == "client:bob"


def test_a_warm_transfer_keeps_the_agent_in_the_conference(agent, other_agent, agent_client, call, fake_gateway):
    make_available(other_agent)

    response = transfer(agent_client, call, type="client", to="bob", mode="warm")

    assert response.status_code == 200
    assert fake_gateway.names() == ["add_participant", "set_participant_ends_conference"]
    agent.refresh_from_db()
    assert agent.status == AgentStatus.IN_CALL
    [entry] = logs(call, CallEvent.TRANSFER)
    assert (
        entry.message
        == "Warm transfer #1: agent alice passed the call to agent bob; alice stays to introduce the caller"
    )
    # Still in the conference, the transferring agent can bring back a caller they held for the introduction.
    assert hold(agent_client, call).status_code == 409  # bob has not answered yet
    VoiceAgent.objects.filter(pk=other_agent.pk).update(status=AgentStatus.IN_CALL)
    assert hold(agent_client, call).status_code == 200
    assert resume(agent_client, call).status_code == 200


def test_a_warm_transfer_to_a_number_leaves_the_agent_in_charge(agent, agent_client, call, fake_gateway):
    response = transfer(agent_client, call, type="phonenumber", to="+442071838750", mode="warm")

    assert response.status_code == 200
    call.refresh_from_db()
    assert call.agent == agent
    assert fake_gateway.kwargs("set_participant_ends_conference")[0]["end_conference_on_exit"] is False
    assert "remove_participant" not in fake_gateway.names()


def test_when_the_warm_transferring_agent_hangs_up_they_wrap_up(agent, other_agent, agent_client, call, fake_gateway):
    make_available(other_agent)
    agent_leg = call.agent_call_sid
    transfer(agent_client, call, type="client", to="bob", mode="warm")

    assert call_services.agent_leave_call(call_sid=call.call_sid, leg_sid=agent_leg, agent_id=agent.pk) is True

    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP
    assert hold(agent_client, call).status_code == 404
    assert call_services.agent_leave_call(call_sid=call.call_sid, leg_sid=agent_leg, agent_id=agent.pk) is False


def test_when_the_agent_leaves_a_warm_transfer_to_a_number_the_call_goes_on_without_them(
    agent, agent_client, call, fake_gateway
):
    transfer(agent_client, call, type="phonenumber", to="+442071838750", mode="warm")

    assert call_services.agent_leave_call(call_sid=call.call_sid, leg_sid=call.agent_call_sid, agent_id=agent.pk)

    call.refresh_from_db()
    assert call.agent is None and call.status == CallStatus.IN_PROGRESS
    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP


def test_an_ordinary_agent_hang_up_is_left_to_the_callers_status_callback(agent, call):
    assert not call_services.agent_leave_call(call_sid=call.call_sid, leg_sid=call.agent_call_sid, agent_id=agent.pk)
    agent.refresh_from_db()
    assert agent.status == AgentStatus.IN_CALL


def test_a_cold_transfer_takes_a_held_caller_off_hold(agent_client, call, fake_gateway):
    Call.objects.filter(pk=call.pk).update(on_hold=True, hold_started_at=timezone.now() - timedelta(seconds=20))

    response = transfer(agent_client, call, type="phonenumber", to="+14155550123")

    assert response.status_code == 200
    assert fake_gateway.names() == [
        "add_participant",
        "set_participant_ends_conference",
        "set_participant_hold",
        "remove_participant",
    ]
    assert fake_gateway.kwargs("set_participant_hold")[0]["hold"] is False
    assert response.json()["onHold"] is False
    assert response.json()["holdSeconds"] == 20


def test_transfers_form_a_chain_in_the_call_log(agent, other_agent, make_agent, agent_client, call, fake_gateway):
    make_available(other_agent)
    carol = make_available(make_agent("carol"))
    transfer(agent_client, call, type="client", to="bob")
    VoiceAgent.objects.filter(pk=other_agent.pk).update(status=AgentStatus.IN_CALL)  # bob answered

    response = transfer(api_client_for(other_agent.user), call, type="client", to="carol")

    assert response.status_code == 200, response.json()
    chain = [(e.data["step"], e.data["fromAgent"], e.data["toAgent"]) for e in logs(call, CallEvent.TRANSFER)]
    assert chain == [(1, agent.pk, other_agent.pk), (2, other_agent.pk, carol.pk)]
    call.refresh_from_db()
    assert call.agent == carol


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "phonenumber", "to": "555-0123"}, "E.164"),
        ({"type": "phonenumber", "to": "+1 555"}, "E.164"),
        ({"type": "client", "to": "nobody"}, "No agent"),
        ({"type": "client", "to": "alice"}, "already on this call"),
        ({"type": "sip", "to": "sip:x@example.com"}, "type"),
        ({"type": "client"}, "to"),
        ({"to": "+14155550123"}, "type"),
        ({"type": "client", "to": "bob", "mode": "lukewarm"}, "mode"),
    ],
)
def test_invalid_destinations_are_400(other_agent, agent_client, call, fake_gateway, body, message):
    make_available(other_agent)

    response = transfer(agent_client, call, **body)

    assert response.status_code == 400
    assert message in response.json()["message"]
    assert fake_gateway.sent == []


def test_an_agent_who_is_not_available_cannot_receive_a_transfer(other_agent, agent_client, call, fake_gateway):
    make_available(other_agent, status=AgentStatus.UNAVAILABLE)

    response = transfer(agent_client, call, type="client", to="bob")

    assert response.status_code == 409
    assert "bob is not available" in response.json()["message"]
    assert fake_gateway.sent == []


def test_an_agent_whose_console_went_silent_cannot_receive_a_transfer(other_agent, agent_client, call, fake_gateway):
    make_available(other_agent, last_heartbeat_at=timezone.now() - timedelta(hours=1))

    response = transfer(agent_client, call, type="client", to="bob")

    assert response.status_code == 409
    assert "console offline" in response.json()["message"]


def test_a_call_still_ringing_cannot_be_transferred(agent, agent_client, call, fake_gateway):
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING)

    response = transfer(agent_client, call, type="phonenumber", to="+14155550123")

    assert response.status_code == 409
    assert fake_gateway.sent == []


def test_an_ended_call_cannot_be_transferred(agent_client, call, fake_gateway):
    Call.objects.filter(pk=call.pk).update(status=CallStatus.NO_ANSWER)

    assert transfer(agent_client, call, type="phonenumber", to="+14155550123").status_code == 409


def test_the_receiving_agent_is_no_longer_offered_to_routing(other_agent, agent_client, call, fake_gateway, line):
    make_available(other_agent)
    transfer(agent_client, call, type="client", to="bob")

    assert other_agent not in call_services.available_agents(line=line)


# --- a transfer nobody answers -----------------------------------------------------------------------------


def ring_out(call, leg_sid, agent=None):
    """What routing's participant callback does with a no-answer event: apply it, then let call control decide."""
    call_services.call_apply_leg_event(
        call_sid=call.call_sid, leg_sid=leg_sid, agent_id=agent.pk if agent else None, status="no-answer"
    )
    return callcontrol.transfer_leg_unanswered(call_sid=call.call_sid, leg_sid=leg_sid)


def test_a_warm_transfer_nobody_answers_goes_back_to_the_agent(agent, other_agent, agent_client, call, fake_gateway):
    make_available(other_agent)
    agent_leg = call.agent_call_sid
    new_leg = transfer(agent_client, call, type="client", to="bob", mode="warm").json()["transfer"][
        "participantCallSid"
    ]

    assert ring_out(call, new_leg, other_agent) == "back-to-agent"

    call.refresh_from_db()
    assert (call.agent, call.agent_call_sid) == (agent, agent_leg)
    other_agent.refresh_from_db()
    assert other_agent.status == AgentStatus.AVAILABLE
    assert fake_gateway.kwargs("set_participant_ends_conference")[-1] == {
        "conference_sid": CONFERENCE_SID,
        "call_sid": agent_leg,
        "end_conference_on_exit": True,
    }
    assert hold(agent_client, call).status_code == 200
    assert "alice keeps the call" in CallLog.objects.filter(call=call, event=CallEvent.ROUTING).last().message
    assert callcontrol.transfer_leg_unanswered(call_sid=call.call_sid, leg_sid=new_leg) == ""


def test_after_a_cold_transfer_nobody_answers_the_caller_is_rung_to_the_next_agent(
    agent, other_agent, agent_client, call, fake_gateway
):
    new_leg = transfer(agent_client, call, type="phonenumber", to="+14155550123").json()["transfer"][
        "participantCallSid"
    ]
    make_available(other_agent)

    assert ring_out(call, new_leg) == "requeued"

    call.refresh_from_db()
    assert call.agent == other_agent
    assert fake_gateway.kwargs("add_participant")[-1]["to"] == "client:bob"
    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP  # the agent who passed the call on is not rung again


def test_legs_that_are_not_transfers_are_left_alone(call, fake_gateway):
    assert callcontrol.transfer_leg_unanswered(call_sid=call.call_sid, leg_sid=sid("CA", 4242)) == ""
    assert callcontrol.transfer_leg_unanswered(call_sid=sid("CA", 4243), leg_sid=sid("CA", 4242)) == ""


# --- transfers are rows -------------------------------------------------------------------------------------


def test_each_transfer_is_a_row_that_staff_read_in_the_call_resource(
    agent, other_agent, agent_client, staff_client, call, fake_gateway
):
    make_available(other_agent)
    transfer(agent_client, call, type="client", to="bob", mode="warm")

    body = staff_client.get(f"/voiceconfig/calls/{call.pk}").json()

    [row] = body["transfers"]
    assert {key: row[key] for key in ("step", "fromAgent", "toAgent", "targetType", "target", "mode", "state")} == {
        "step": 1,
        "fromAgent": agent.pk,
        "toAgent": other_agent.pk,
        "targetType": "client",
        "target": "client:bob",
        "mode": "warm",
        "state": "ringing",
    }
    assert row["legSid"] == sid("CA", 5001) and row["conferenceSid"] == CONFERENCE_SID
    # Read-only: a PATCH cannot rewrite the transfer chain.
    staff_client.patch(f"/voiceconfig/calls/{call.pk}", {"transfers": []}, format="json")
    assert call.transfers.count() == 1


def test_a_transfer_row_follows_its_leg_answered_then_ended(
    agent, other_agent, agent_client, call, fake_gateway, twilio
):
    make_available(other_agent)
    transfer(agent_client, call, type="client", to="bob")
    row = call.transfers.get()

    def leg_event(status: str, seq: int):
        query = {"callSid": call.call_sid, "transfer": row.pk, "agent": other_agent.pk}
        fields = {"CallSid": row.leg_sid or sid("CA", 5001), "CallStatus": status, "SequenceNumber": seq}
        return twilio.post("participant-callback", "participant_callback", query=query, **fields)

    leg_event("in-progress", 2)
    row.refresh_from_db()
    assert (row.state, row.answered_at is not None) == ("connected", True)
    leg_event("ringing", 1)  # late: changes nothing
    row.refresh_from_db()
    assert row.state == "connected"
    leg_event("completed", 3)
    row.refresh_from_db()
    assert (row.state, row.ended_at is not None) == ("completed", True)


def test_a_transfer_twilio_refuses_stays_as_a_failed_row_and_gives_no_rights(
    agent, other_agent, agent_client, call, fake_gateway
):
    make_available(other_agent)
    fake_gateway.fail("add_participant")

    response = transfer(agent_client, call, type="client", to="bob", mode="warm")

    assert response.status_code == 502
    row = call.transfers.get()
    assert (row.state, row.to_agent, row.failure) == ("failed", other_agent, "Twilio said no")
    # A failed transfer is nobody's warm transfer: the permission reads the rows Twilio accepted.
    assert call_services.warm_transferrer_of(call) is None
    other_agent.refresh_from_db()
    assert other_agent.status == AgentStatus.AVAILABLE


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_twilio_is_asked(agent, other_agent, agent_client, call, fake_gateway):
    # Real commits (no test transaction around the test): a transaction open here would hold row locks while
    # Twilio takes its time.
    in_transaction = []
    record = fake_gateway._record

    def watching(name: str, kwargs: dict):
        in_transaction.append((name, connection.in_atomic_block))
        return record(name, kwargs)

    fake_gateway._record = watching
    make_available(other_agent)

    assert hold(agent_client, call).status_code == 200
    assert resume(agent_client, call).status_code == 200
    assert transfer(agent_client, call, type="client", to="bob").status_code == 200

    assert [name for name, _ in in_transaction] == [
        "set_participant_hold",
        "set_participant_hold",
        "add_participant",
        "set_participant_ends_conference",
        "remove_participant",
    ]
    assert not any(open_ for _, open_ in in_transaction), in_transaction
