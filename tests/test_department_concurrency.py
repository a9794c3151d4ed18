"""Issue 16 under real load: 200 callers at the same instant into two departments of 10 members, with free agents
outside both. PostgreSQL only, real parallel requests through gunicorn (as tests/test_routing_concurrency.py).

Run it: DATABASE_URL=postgres://postgres@127.0.0.1:5432/voice_departments \
    .venv/bin/pytest tests/test_department_concurrency.py
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.utils import timezone

from tests.test_routing_concurrency import server_env
from tests.twilio.payloads import payload, sid
from tests.twilio.servers import fake_twilio, gunicorn
from tests.twilio.signing import twilio_signature
from voiceconfig.models import (
    AgentStatus,
    Call,
    CallStage,
    Department,
    DepartmentMember,
    PhoneLine,
    RingOffer,
    VoiceAgent,
    VoiceConfig,
)

CALLERS = 200
MEMBERS = 10
NUMBERS = {"Sales": "+14155550100", "Support": "+14155550101"}

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(params=["fewest-calls", "ring-all"])
def two_departments(request, transactional_db, make_agent):
    """Sales (round-robin) and Support: fewest-calls, or ring-all (every free member rung at once)."""
    config = VoiceConfig.objects.create(name="Rush hour", max_queue_wait_seconds=600)
    members = {}
    for name, strategy in (("Sales", "round-robin"), ("Support", request.param)):
        department = Department.objects.create(name=name, strategy=strategy)
        agents = [make_agent(f"{name.lower()}{n:02d}") for n in range(MEMBERS)]
        for position, agent in enumerate(agents):
            DepartmentMember.objects.create(department=department, agent=agent, position=position)
        PhoneLine.objects.create(name=name, phone_number=NUMBERS[name], config=config, default_department=department)
        members[name] = {agent.pk for agent in agents}
    outsiders = {make_agent(f"outsider{n}").pk for n in range(5)}  # free and online, in no department
    now = timezone.now()
    VoiceAgent.objects.update(status=AgentStatus.AVAILABLE, last_heartbeat_at=now, status_changed_at=now)
    return members, outsiders


def ring_both_at_once(base_url: str) -> list[requests.Response]:
    url = f"{base_url}/voicetwilio/voice"
    start = threading.Barrier(CALLERS)
    numbers = list(NUMBERS.values())

    def one_caller(n: int) -> requests.Response:
        to = numbers[n % 2]
        params = payload(
            "voice", CallSid=sid("CA", 0x2000 + n), To=to, Called=to, From=f"+1415666{n:04d}", Caller=f"+1415666{n:04d}"
        )
        headers = {"X-Twilio-Signature": twilio_signature(url, params)}
        start.wait()
        return requests.post(url, data=params, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        return list(pool.map(one_caller, range(CALLERS)))


def test_200_simultaneous_callers_into_two_departments_ring_only_members_each_once(two_departments):
    members, outsiders = two_departments
    with fake_twilio() as twilio_api, gunicorn(env=server_env(twilio_api.base_url)) as base_url:
        responses = ring_both_at_once(base_url)
        creates = twilio_api.participant_creates()
        max_in_flight = twilio_api.max_in_flight

    assert [response.status_code for response in responses] == [200] * CALLERS
    calls = Call.objects.select_related("phone_line")
    assert calls.count() == CALLERS
    # Who rings for whom: the call's agent, or (ring-all) each live offer's member.
    rung = list(calls.filter(agent__isnull=False).values_list("call_sid", "agent_id", "phone_line__name"))
    rung += list(
        RingOffer.objects.filter(state="ringing").values_list("call__call_sid", "agent_id", "call__phone_line__name")
    )
    per_agent = Counter(agent for _, agent, _ in rung)
    assert set(per_agent.values()) == {1}, "an agent rung for two calls"
    assert len(per_agent) == 2 * MEMBERS  # every member rung: none left idle while their callers wait
    outside = [call_sid for call_sid, agent, line in rung if agent not in members[line]]
    assert outside == [], "a call went to an agent outside its department"
    assert set(per_agent) & outsiders == set()
    being_rung = {call_sid for call_sid, _, _ in rung}
    waiting = calls.filter(agent__isnull=True, stage=CallStage.QUEUED).exclude(ring_offers__state="ringing")
    assert waiting.count() == CALLERS - len(being_rung)
    assert len(creates) == 2 * MEMBERS
    assert max_in_flight > 1
