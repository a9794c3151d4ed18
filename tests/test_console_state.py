"""The heartbeat answer tells the console the agent's own call, ringing or connected, with the server's clock."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.console_support import connected_call, make_available, waiting_call
from voiceconfig.models import AgentStatus, Call, CallStatus, VoiceAgent


def heartbeat(client, agent):
    return client.post(f"/voicetwilio/agent/{agent.pk}/heartbeats")


def ringing_call(*, agent, line, n: int = 7) -> Call:
    """A waiting caller routing has just offered to `agent`: reserved, the agent's softphone ringing."""
    call = waiting_call(line=line, n=n, waited=12)
    Call.objects.filter(pk=call.pk).update(agent=agent)
    make_available(agent, status=AgentStatus.RINGING)
    call.refresh_from_db()
    return call


def test_an_agent_without_a_call_is_told_so(agent, agent_client):
    make_available(agent)

    body = heartbeat(agent_client, agent).json()

    assert body["call"] is None
    assert body["status"] == "available"


def test_a_call_ringing_the_agent_is_in_the_heartbeat_answer(agent, agent_client, line):
    call = ringing_call(agent=agent, line=line)

    body = heartbeat(agent_client, agent).json()

    assert body["status"] == "ringing"
    assert body["call"] == {
        "id": call.pk,
        "callSid": call.call_sid,
        "from": "+14155550188",
        "to": line.phone_number,
        "lineName": "Main",
        "state": "ringing",
        "answeredAt": None,
        "onHold": False,
        "recording": None,
        "supervisors": [],
    }


def test_a_connected_call_carries_when_it_was_answered_and_the_servers_clock(agent, agent_client, line):
    call = connected_call(agent=agent, line=line, on_hold=True)
    before = timezone.now()

    body = heartbeat(agent_client, agent).json()

    assert body["call"]["state"] == "connected"
    assert body["call"]["onHold"] is True
    assert datetime.fromisoformat(body["call"]["answeredAt"]) == call.answered_at
    server_time = datetime.fromisoformat(body["serverTime"])
    assert before <= server_time <= timezone.now()
    # The page's timer reads this: a minute into the call, not 0:00.
    assert server_time - call.answered_at >= timedelta(seconds=60)


def test_a_call_transferred_to_the_agent_rings_even_though_someone_answered_it_before(
    agent, other_agent, agent_client, line
):
    # Answered by another agent, then passed on (cold) to this one, whose softphone now rings.
    connected_call(agent=agent, line=line)
    make_available(agent, status=AgentStatus.RINGING)

    body = heartbeat(agent_client, agent).json()

    assert body["call"]["state"] == "ringing"
    assert body["call"]["answeredAt"] is None


@pytest.mark.parametrize("status", [CallStatus.COMPLETED, CallStatus.CANCELED, CallStatus.NO_ANSWER])
def test_a_call_that_has_ended_is_not_shown(agent, agent_client, line, status):
    connected_call(agent=agent, line=line, status=status, ended_at=timezone.now())
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.WRAP_UP)

    assert heartbeat(agent_client, agent).json()["call"] is None


def test_another_agents_call_is_not_shown(agent, other_agent, agent_client, line):
    make_available(agent)
    ringing_call(agent=other_agent, line=line)

    assert heartbeat(agent_client, agent).json()["call"] is None


def test_a_call_on_a_deleted_line_still_shows_its_numbers(agent, agent_client, line):
    call = connected_call(agent=agent, line=line, phone_line=None)

    body = heartbeat(agent_client, agent).json()

    assert body["call"]["lineName"] is None
    assert body["call"]["to"] == call.to_number


def test_the_heartbeat_answer_is_described_in_the_openapi_schema(db, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    answer = schema["paths"]["/voicetwilio/agent/{agentid}/heartbeats"]["post"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = schema["components"]["schemas"][ref]["properties"]
    assert {"call", "serverTime", "status", "offeredCall"} <= set(properties)
    call = schema["components"]["schemas"]["AgentCall"]
    assert set(call["properties"]) == {
        "id",
        "callSid",
        "from",
        "to",
        "lineName",
        "state",
        "answeredAt",
        "onHold",
        "recording",
        "supervisors",
    }
