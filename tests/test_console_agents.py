"""Agent status and heartbeats from the console (decision 10)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import api_client_for
from tests.console_support import connected_call, install_fake_gateway, make_available, waiting_call
from voiceconfig.admin_views import overview_data
from voiceconfig.calls import available_agents
from voiceconfig.models import AgentStatus, Call, VoiceAgent


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


def set_status(client, agent, **body):
    return client.post(f"/voicetwilio/agent/{agent.pk}/status", body, format="json")


def heartbeat(client, agent):
    return client.post(f"/voicetwilio/agent/{agent.pk}/heartbeats")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"available": True}, "available"),
        ({"available": False}, "unavailable"),
        ({"status": "offline"}, "offline"),
        ({"status": "unavailable"}, "unavailable"),
        ({"status": "available", "available": True}, "available"),
    ],
)
def test_an_agent_sets_their_own_status(agent, agent_client, fake_gateway, body, status):
    response = set_status(agent_client, agent, **body)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == status
    agent.refresh_from_db()
    assert agent.status == status


def test_becoming_available_is_no_heartbeat_only_the_console_heartbeat_is(agent, agent_client, line, fake_gateway):
    waiting_call(line=line, n=1, waited=30)

    body = set_status(agent_client, agent, available=True).json()

    # Chosen, but with no console heartbeat the agent is not online, and nobody is rung for them.
    assert body["status"] == "available" and body["online"] is False and body["offeredCall"] is None
    assert fake_gateway.sent == []
    # Their console's first heartbeat brings them online, and the waiting caller is offered at once.
    assert heartbeat(agent_client, agent).json()["online"] is True


def test_staff_setting_an_agent_available_never_makes_them_look_online(staff_client, agent, line, fake_gateway):
    waiting_call(line=line, n=1, waited=30)

    body = set_status(staff_client, agent, available=True).json()

    assert body["status"] == "available" and body["online"] is False
    assert body["offeredCall"] is None and fake_gateway.sent == []
    assert agent not in available_agents(line=line)
    [row] = [row for row in overview_data()["agents"] if row.agent.pk == agent.pk]
    assert row.status == AgentStatus.OFFLINE and not row.is_available


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": "in_call"},
        {"status": "ringing"},
        {"available": "maybe"},
        {"available": True, "status": "offline"},
    ],
)
def test_unsettable_or_contradictory_statuses_are_400(agent, agent_client, body):
    response = set_status(agent_client, agent, **body)

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_an_agent_cannot_set_another_agents_status(agent_client, other_agent):
    response = set_status(agent_client, other_agent, available=True)

    assert response.status_code == 404
    other_agent.refresh_from_db()
    assert other_agent.status == AgentStatus.OFFLINE


def test_staff_may_set_anyones_status(staff_client, other_agent, fake_gateway):
    assert set_status(staff_client, other_agent, status="unavailable").json()["status"] == "unavailable"


def test_an_unknown_or_absurd_agent_id_is_404(staff_client, db):
    assert staff_client.post("/voicetwilio/agent/999999/status", {"available": True}, format="json").status_code == 404
    assert staff_client.post("/voicetwilio/agent/" + "9" * 30 + "/status", {}, format="json").status_code == 404


def test_the_status_cannot_be_chosen_during_a_live_call(agent, agent_client, line):
    call = connected_call(agent=agent, line=line)

    response = set_status(agent_client, agent, status="offline")

    assert response.status_code == 409
    assert call.call_sid in response.json()["message"]
    agent.refresh_from_db()
    assert agent.status == AgentStatus.IN_CALL


def test_choosing_available_ends_a_wrap_up_early(agent, agent_client, fake_gateway):
    make_available(agent, status=AgentStatus.WRAP_UP, wrap_up_until=timezone.now() + timedelta(minutes=5))

    body = set_status(agent_client, agent, available=True).json()

    assert body["status"] == "available" and body["wrapUpUntil"] is None


def test_becoming_available_offers_the_longest_waiting_call(agent, agent_client, line, fake_gateway):
    newer = waiting_call(line=line, n=1, waited=10)
    older = waiting_call(line=line, n=2, waited=90)
    make_available(agent, status=AgentStatus.UNAVAILABLE)  # the console is open (heartbeats), the agent away

    response = set_status(agent_client, agent, available=True)

    assert response.status_code == 200
    assert response.json()["offeredCall"] == older.pk
    assert response.json()["status"] == "ringing"
    older.refresh_from_db()
    assert older.agent == agent
    assert Call.objects.get(pk=newer.pk).agent is None
    [rung] = fake_gateway.kwargs("add_participant")
    assert rung["to"] == f"client:{agent.identity}"
    assert rung["conference_name"] == older.conference_name


def test_when_ringing_the_offered_call_fails_the_agent_stays_available(agent, agent_client, line, fake_gateway):
    waiting = waiting_call(line=line, n=1, waited=30)
    fake_gateway.fail("add_participant")

    response = set_status(agent_client, agent, available=True)

    assert response.status_code == 200
    assert response.json()["offeredCall"] is None
    assert response.json()["status"] == "available"
    assert Call.objects.get(pk=waiting.pk).agent is None


def test_going_unavailable_offers_nothing(agent, agent_client, line, fake_gateway):
    waiting_call(line=line, n=1, waited=30)

    assert set_status(agent_client, agent, available=False).json()["offeredCall"] is None
    assert fake_gateway.sent == []


def test_a_heartbeat_keeps_the_agent_online_without_changing_the_status(agent, agent_client, fake_gateway):
    make_available(agent, status=AgentStatus.UNAVAILABLE, last_heartbeat_at=timezone.now() - timedelta(hours=1))

    response = heartbeat(agent_client, agent)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "unavailable" and body["online"] is True
    agent.refresh_from_db()
    assert timezone.now() - agent.last_heartbeat_at < timedelta(seconds=5)
    assert body["heartbeatExpiresAt"] > body["lastHeartbeatAt"]


def test_an_available_agent_coming_back_online_is_offered_a_waiting_call(agent, agent_client, line, fake_gateway):
    make_available(agent, last_heartbeat_at=timezone.now() - timedelta(hours=1))
    waiting = waiting_call(line=line, n=1, waited=30)

    response = heartbeat(agent_client, agent)

    assert response.json()["offeredCall"] == waiting.pk


def test_a_routine_heartbeat_does_not_offer_calls(agent, agent_client, line, fake_gateway):
    make_available(agent)
    waiting_call(line=line, n=1, waited=30)

    assert heartbeat(agent_client, agent).json()["offeredCall"] is None
    assert fake_gateway.sent == []


def test_an_agent_whose_heartbeats_stopped_shows_offline(agent, agent_client, fake_gateway):
    make_available(agent)
    VoiceAgent.objects.filter(pk=agent.pk).update(last_heartbeat_at=timezone.now() - timedelta(minutes=10))

    body = set_status(api_client_for(agent.user), agent, status="unavailable").json()

    assert body["online"] is False


def test_an_agent_cannot_heartbeat_for_another(agent_client, other_agent):
    assert heartbeat(agent_client, other_agent).status_code == 404


@pytest.mark.parametrize("path", ["status", "heartbeats"])
def test_presence_needs_authentication(agent, path):
    assert APIClient().post(f"/voicetwilio/agent/{agent.pk}/{path}").status_code == 401
