"""POST /voicetwilio/calls/{id}:hangup (issue 12): the console ends a call its browser has no leg on.

Against a fake gateway: who may hang up, what is asked of Twilio, what the database remembers, and that a Twilio
failure changes nothing. The request Twilio receives is checked against Twilio's OpenAPI in tests/contract.
"""

import pytest
from rest_framework.test import APIClient

from tests.conftest import api_client_for
from tests.console_support import CONFERENCE_SID, connected_call, install_fake_gateway, snapshot
from tests.twilio.payloads import sid
from voiceconfig import calls as call_services
from voiceconfig.models import AgentStatus, Call, CallEvent, CallLog, CallStage, CallStatus
from voicetwilio import gateway


@pytest.fixture
def fake_gateway(monkeypatch):
    fake = install_fake_gateway(monkeypatch)
    monkeypatch.setattr(gateway, "end_conference", lambda **kwargs: fake._record("end_conference", kwargs))
    return fake


@pytest.fixture
def call(agent, line):
    return connected_call(agent=agent, line=line)


def hang_up(client, call, **body):
    return client.post(f"/voicetwilio/calls/{call.pk}:hangup", body, format="json")


def test_the_agent_hangs_up_their_call_and_goes_to_wrap_up(agent, agent_client, call, fake_gateway, config):
    config.wrap_up_seconds = 30
    config.save()

    response = hang_up(agent_client, call)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "id": call.pk,
        "callSid": call.call_sid,
        "status": "completed",
        "agent": agent.pk,
        "onHold": False,
        "holdSeconds": 0,
        "changed": True,
    }
    # The caller's leg first, then the conference with the agent's leg in it.
    assert fake_gateway.sent == [
        ("end_call", {"call_sid": call.call_sid}),
        ("end_conference", {"conference_sid": CONFERENCE_SID}),
    ]
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED and call.ended_at is not None
    assert call.talk_seconds >= 60
    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP and agent.wrap_up_until is not None
    note = CallLog.objects.get(call=call, event=CallEvent.NOTE, data__hangup=True)
    assert note.data["by"] == "alice" and "alice" in note.message


def test_hanging_up_twice_asks_twilio_once_and_answers_the_same_state(agent_client, call, fake_gateway):
    first = hang_up(agent_client, call)
    before = snapshot()

    second = hang_up(agent_client, call)

    assert first.status_code == second.status_code == 200
    assert first.json()["changed"] is True and second.json()["changed"] is False
    assert {**second.json(), "changed": True} == first.json()
    assert fake_gateway.names() == ["end_call", "end_conference"]
    assert snapshot() == before


def test_a_call_the_caller_has_already_ended_is_answered_without_asking_twilio(agent_client, call, fake_gateway):
    call_services.call_apply_status(call_sid=call.call_sid, status=CallStatus.COMPLETED, sequence_number=3)
    before = snapshot()

    response = hang_up(agent_client, call)

    assert response.status_code == 200
    assert response.json()["status"] == "completed" and response.json()["changed"] is False
    assert fake_gateway.sent == []
    assert snapshot() == before


def test_twilios_later_completed_callback_changes_nothing(agent, agent_client, call, fake_gateway):
    hang_up(agent_client, call)
    call.refresh_from_db()
    ended_at = call.ended_at

    result = call_services.call_apply_status(call_sid=call.call_sid, status=CallStatus.COMPLETED, sequence_number=4)

    assert not result.changed
    call.refresh_from_db()
    assert call.ended_at == ended_at


def test_a_held_call_hung_up_counts_its_hold(agent_client, call, fake_gateway):
    assert agent_client.post(f"/voicetwilio/calls/{call.pk}:onhold").status_code == 200

    response = hang_up(agent_client, call)

    assert response.json()["onHold"] is False
    assert CallLog.objects.filter(call=call, event=CallEvent.RESUME).count() == 1


def test_a_call_still_ringing_the_agent_frees_them_at_once(agent, agent_client, line, fake_gateway):
    call = connected_call(agent=agent, line=line, answered_at=None, stage=CallStage.QUEUED, conference_sid="")
    agent.status = AgentStatus.RINGING
    agent.save(update_fields=["status"])

    response = hang_up(agent_client, call)

    assert response.status_code == 200
    # No conference yet: the ringing agent's leg is hung up on its own.
    assert fake_gateway.sent == [
        ("end_call", {"call_sid": call.call_sid}),
        ("end_call", {"call_sid": call.agent_call_sid}),
    ]
    agent.refresh_from_db()
    assert agent.status == AgentStatus.AVAILABLE
    call.refresh_from_db()
    assert call.stage == CallStage.ABANDONED and call.agent_id is None


def test_a_conference_twilio_has_already_ended_falls_back_to_the_agents_leg(agent_client, call, fake_gateway):
    fake_gateway.fail("end_conference", "The requested resource was not found")

    response = hang_up(agent_client, call)

    assert response.status_code == 200
    assert fake_gateway.names() == ["end_call", "end_conference", "end_call"]
    assert fake_gateway.kwargs("end_call")[1] == {"call_sid": call.agent_call_sid}


def test_a_twilio_failure_is_a_502_and_nothing_is_recorded(agent, agent_client, call, fake_gateway):
    fake_gateway.fail("end_call", "Twilio refused to end the call (HTTP 404): not found")
    before = snapshot()

    response = hang_up(agent_client, call)

    assert response.status_code == 502
    assert response.json() == {
        "error": "twilio_error",
        "message": "Twilio refused to end the call (HTTP 404): not found",
        "twilioCode": 20404,
        "twilioStatus": 404,
    }
    assert fake_gateway.names() == ["end_call"]
    assert snapshot() == before
    # And the agent can try again once Twilio answers.
    fake_gateway.failing.clear()
    assert hang_up(agent_client, call).json()["changed"] is True


def test_staff_may_hang_up_any_call(staff_client, call, fake_gateway):
    assert hang_up(staff_client, call).status_code == 200
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED


def test_another_agent_cannot_hang_up_the_call(other_agent, call, fake_gateway):
    before = snapshot()

    response = hang_up(api_client_for(other_agent.user), call)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert fake_gateway.sent == [] and snapshot() == before


def test_hanging_up_needs_authentication(call, fake_gateway):
    response = APIClient().post(f"/voicetwilio/calls/{call.pk}:hangup")

    assert response.status_code == 401
    assert fake_gateway.sent == []


def test_a_callsid_in_the_body_must_be_the_calls(agent_client, call, fake_gateway):
    response = hang_up(agent_client, call, callSid=sid("CA", 99))

    assert response.status_code == 400 and "callSid" in response.json()["message"]
    assert fake_gateway.sent == []


def test_the_call_can_be_named_by_its_callsid(agent_client, call, fake_gateway):
    response = agent_client.post(f"/voicetwilio/calls/{call.call_sid}:hangup")

    assert response.status_code == 200 and response.json()["id"] == call.pk


def test_the_hangup_is_in_the_openapi_with_the_error_envelope(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/voicetwilio/calls/{id}:hangup"]["post"]

    assert operation["operationId"] == "voicetwilio_calls_hangup"
    assert {"200", "401", "404", "502"} <= set(operation["responses"])
    assert "changed" in str(schema["components"]["schemas"]["HangupResult"])
