"""Each list endpoint runs the same number of queries for 1 row as for 50: no query per row (no N+1)."""

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import call_sid, make_user
from voiceconfig import services
from voiceconfig.models import (
    BusinessHours,
    Call,
    CallLog,
    CallStatus,
    Holiday,
    IvrOption,
    PhoneLine,
    VoiceConfig,
)


def add_config(n: int, **_) -> None:
    config = VoiceConfig.objects.create(name=f"Config {n}")
    BusinessHours.objects.create(config=config, weekday=n % 7, opens_at="09:00", closes_at="17:00")
    Holiday.objects.create(config=config, date=f"2026-12-{1 + n % 28:02d}")
    IvrOption.objects.create(config=config, digit=str(n % 10), keywords="sales, buy")


def add_line(n: int, *, config: VoiceConfig, agent, **_) -> None:
    line = PhoneLine.objects.create(name=f"Line {n}", phone_number=f"+1415555{n:04d}", config=config)
    line.agents.add(agent)


def add_agent(n: int, **_) -> None:
    services.agent_create(user=make_user(f"user{n}"))


def add_call(n: int, *, agent, line, **_) -> None:
    # The agent under test takes every call (finished ones: one live call per agent).
    Call.objects.create(call_sid=call_sid(1000 + n), agent=agent, phone_line=line, status=CallStatus.COMPLETED)


def add_log(n: int, *, agent, line, **_) -> None:
    call = Call.objects.create(call_sid=call_sid(2000 + n), agent=agent, phone_line=line, status=CallStatus.COMPLETED)
    CallLog.objects.create(call=call, call_sid=call.call_sid, event="status", call_status="completed")


CASES: dict[str, Callable[..., None]] = {
    "configs": add_config,
    "phonelines": add_line,
    "voiceagents": add_agent,
    "calls": add_call,
    "calllogs": add_log,
}


def count_queries(client, url: str, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"pageSize": 100})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == expected_rows
    return len(queries)


@pytest.mark.parametrize("resource", list(CASES))
def test_staff_lists_cost_the_same_queries_for_1_and_for_50_rows(staff_client, agent, line, resource):
    add = CASES[resource]
    url = f"/voiceconfig/{resource}"
    existing = staff_client.get(url).json()["count"]
    add(1, config=line.config, agent=agent, line=line)
    for_one = count_queries(staff_client, url, existing + 1)

    for n in range(2, 51):
        add(n, config=line.config, agent=agent, line=line)
    for_fifty = count_queries(staff_client, url, existing + 50)

    assert for_fifty == for_one


@pytest.mark.parametrize("resource", ["calls", "calllogs"])
def test_an_agents_lists_cost_the_same_queries_for_1_and_for_50_rows(agent_client, agent, line, resource):
    add = CASES[resource]
    url = f"/voiceconfig/{resource}"
    add(1, agent=agent, line=line)
    for_one = count_queries(agent_client, url, 1)

    for n in range(2, 51):
        add(n, agent=agent, line=line)
    for_fifty = count_queries(agent_client, url, 50)

    assert for_fifty == for_one
