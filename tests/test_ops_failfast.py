"""Fail-fast: a caller is never kept waiting on a database lock.

Another transaction (an agent changing status, an admin editing agents, a stuck request) may hold every agent
row locked. Routing must pass over locked agents (SKIP LOCKED) instead of waiting for them, so the incoming
call still gets its queue TwiML at once and the caller hears the greeting and hold music; the agent is offered
the call later (queue-wait retries routing). Needs PostgreSQL: SQLite has no row locks.
"""

import threading
import time
import xml.etree.ElementTree as ET

import psycopg2
import pytest
from django.db import connection
from django.test import Client

from tests.conftest import call_sid
from tests.twilio.signing import signed_post
from voiceconfig import calls as call_services
from voiceconfig.models import AgentStatus, Call

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = 3.0
# If the code under test does wait on the lock, the lock is released after this long so the test ends.
WATCHDOG_SECONDS = 12.0

LOCKS = {
    "select for update": "SELECT id FROM voiceconfig_voiceagent FOR UPDATE",
    "an open update": "UPDATE voiceconfig_voiceagent SET display_name = display_name",
}


@pytest.fixture(autouse=True)
def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")


@pytest.fixture
def available_agents(make_agent, line):
    agents = [make_agent() for _ in range(3)]
    for agent in agents:
        call_services.agent_set_status(agent=agent, status=AgentStatus.AVAILABLE)
        call_services.agent_record_heartbeat(agent=agent)
    return agents


def other_transaction():
    """A second connection to the test database, in an open transaction."""
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
    )
    other.autocommit = False
    return other


@pytest.mark.parametrize("lock", LOCKS.values(), ids=LOCKS.keys())
def test_an_incoming_call_is_queued_within_3_seconds_while_every_agent_row_is_locked(lock, line, available_agents):
    locker = other_transaction()
    watchdog = threading.Timer(WATCHDOG_SECONDS, locker.rollback)
    try:
        with locker.cursor() as cursor:
            cursor.execute(lock)
            assert cursor.rowcount == len(available_agents)
        watchdog.start()
        started = time.monotonic()
        response = signed_post(
            Client(),
            "/voicetwilio/voice",
            {
                "CallSid": call_sid(0xFA57),
                "From": "+14155550123",
                "To": line.phone_number,
                "CallStatus": "ringing",
                "Direction": "inbound",
            },
        )
        elapsed = time.monotonic() - started
    finally:
        watchdog.cancel()
        locker.rollback()
        locker.close()

    assert elapsed < DEADLINE_SECONDS, f"the caller waited {elapsed:.1f} s for TwiML"
    assert response.status_code == 200
    document = ET.fromstring(response.content)
    assert document.find("./Dial/Conference") is not None, response.content
    assert document.find(".//Client") is None, "no agent can have been rung: all were locked"
    call = Call.objects.get(call_sid=call_sid(0xFA57))
    assert call.agent_id is None
    assert call.queued_at is not None
