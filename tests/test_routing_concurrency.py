"""Decision 6 under real load: 200 callers ring at the same instant, 20 agents are free. PostgreSQL only.

The project runs under gunicorn (3 worker processes x 8 threads, as in production) against the test database;
Twilio's REST API is a fake server started here that answers participant-create as Twilio does. 200 client
threads are released by a barrier at once, each posting a signed incoming-call webhook. However the requests
interleave, every agent must end up ringing for exactly one caller and every other caller must be queued.

Run it: DATABASE_URL=postgres://postgres@127.0.0.1:5432/voice_inbound .venv/bin/pytest tests/test_routing_concurrency.py
"""

import threading
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from tests.twilio import openapi
from tests.twilio.fixtures import TwilioDriver
from tests.twilio.payloads import payload, sid
from tests.twilio.servers import fake_twilio, gunicorn
from tests.twilio.signing import twilio_signature
from voiceconfig.models import (
    AgentStatus,
    Call,
    CallEvent,
    CallLog,
    CallStage,
    CallStatus,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)

CALLERS = 200
AGENTS = 20

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def twenty_free_agents(transactional_db, make_agent):
    config = VoiceConfig.objects.create(name="Rush hour", max_queue_wait_seconds=600)
    PhoneLine.objects.create(name="Main", phone_number="+14155550100", config=config)
    now = timezone.now()
    agents = [make_agent(f"agent{n:02d}") for n in range(AGENTS)]
    VoiceAgent.objects.update(status=AgentStatus.AVAILABLE, last_heartbeat_at=now, status_changed_at=now)
    return agents


def server_env(twilio_base_url: str) -> dict:
    database = connection.settings_dict
    return {
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "DJANGO_DEBUG": "1",
        "DJANGO_LOG_LEVEL": "WARNING",
        "TWILIO_API_BASE_URL": twilio_base_url,
        "TWILIO_WEBHOOK_BASE_URL": "",
        "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN,
    }


def ring_all_at_once(base_url: str, callers: int = CALLERS) -> list[requests.Response]:
    url = f"{base_url}/voicetwilio/voice"
    start = threading.Barrier(callers)

    def one_caller(n: int) -> requests.Response:
        params = payload("voice", CallSid=sid("CA", 0x1000 + n), From=f"+1415555{n:04d}", Caller=f"+1415555{n:04d}")
        headers = {"X-Twilio-Signature": twilio_signature(url, params)}
        start.wait()
        return requests.post(url, data=params, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=callers) as pool:
        return list(pool.map(one_caller, range(callers)))


def test_200_simultaneous_callers_and_20_free_agents_give_each_agent_exactly_one_call(twenty_free_agents):
    with fake_twilio() as twilio_api, gunicorn(env=server_env(twilio_api.base_url)) as base_url:
        responses = ring_all_at_once(base_url)
        creates = twilio_api.participant_creates()
        max_in_flight = twilio_api.max_in_flight

    # Every caller got TwiML that puts them in their own conference.
    assert [response.status_code for response in responses] == [200] * CALLERS
    conferences = [ET.fromstring(response.content).find("Dial/Conference").text for response in responses]
    assert len(set(conferences)) == CALLERS

    # 20 agents ringing, each for exactly one caller; 180 callers queued; no agent with two calls.
    calls = Call.objects.all()
    assert calls.count() == CALLERS
    per_agent = Counter(calls.filter(agent__isnull=False).values_list("agent_id", flat=True))
    assert len(per_agent) == AGENTS
    assert set(per_agent.values()) == {1}
    assert calls.filter(agent__isnull=True, stage=CallStage.QUEUED).count() == CALLERS - AGENTS
    assert set(VoiceAgent.objects.values_list("status", flat=True)) == {AgentStatus.RINGING}

    # Twilio was asked to ring each agent once, into the conference of the caller they hold.
    assert len(creates) == AGENTS
    rung = {form["To"] for _, form in creates}
    assert rung == {f"client:{agent.identity}" for agent in twenty_free_agents}
    held = {call.conference_name: call for call in calls.filter(agent__isnull=False).select_related("agent")}
    for path, form in creates:
        conference = path.split("/Conferences/")[1].split("/")[0]
        call = held[conference]
        assert form["To"] == f"client:{call.agent.identity}"
        query = parse_qs(urlsplit(form["StatusCallback"]).query)
        assert query == {"callSid": [call.call_sid], "agent": [str(call.agent_id)]}
        assert call.agent_call_sid.startswith("CA")
    # What we sent is what Twilio's own OpenAPI description accepts.
    assert openapi.available(), f"Twilio's OpenAPI description is missing: {openapi.TWILIO_OPENAPI}"
    assert [openapi.form_problems(path, form) for path, form in creates] == [[]] * AGENTS
    # The requests really overlapped (several workers and threads at once), or this proved nothing.
    assert max_in_flight > 1


def test_as_many_simultaneous_callers_as_free_agents_leave_nobody_waiting(twenty_free_agents):
    """No reservation is lost in a race: with 20 callers and 20 free agents, all 20 callers are rung."""
    with fake_twilio() as twilio_api, gunicorn(env=server_env(twilio_api.base_url)) as base_url:
        for round_ in range(3):
            # Each round: free the agents again, then 20 callers at once.
            Call.objects.all().delete()
            VoiceAgent.objects.update(status=AgentStatus.AVAILABLE, last_heartbeat_at=timezone.now())
            responses = ring_all_at_once(base_url, callers=AGENTS)
            assert [response.status_code for response in responses] == [200] * AGENTS
            assert Call.objects.filter(agent__isnull=True).count() == 0, f"round {round_}"
            assert len(set(Call.objects.values_list("agent_id", flat=True))) == AGENTS


def test_the_same_callback_delivered_30_times_at_once_is_logged_once_and_applied_once(
    transactional_db, client, line, online_agent, twilio_gateway
):
    """Decision 5 under real concurrency: 30 copies of "completed" race each other on separate connections."""
    alice = online_agent("alice")
    driver = TwilioDriver(client)
    call_sid = sid("CA", 0xD0D0)
    driver.incoming(call_sid=call_sid)
    call = Call.objects.get(call_sid=call_sid)
    driver.leg(call_sid, call.agent_call_sid, "in-progress", agent=alice, seq=2)
    start = threading.Barrier(30)

    def deliver(_: int) -> int:
        try:
            start.wait()
            return TwilioDriver(Client()).status(call_sid, "completed", seq=3).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(deliver, range(30)))

    assert statuses == [200] * 30
    assert CallLog.objects.filter(call_sid=call_sid, event=CallEvent.STATUS).count() == 1
    call.refresh_from_db()
    alice.refresh_from_db()
    assert call.status == CallStatus.COMPLETED and call.agent == alice
    assert alice.status == AgentStatus.WRAP_UP
