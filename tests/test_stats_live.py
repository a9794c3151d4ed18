"""GET /voiceconfig/stats/live: agents as routing sees them, callers and callbacks waiting, today per department in
its own zone, and a fixed query count whatever the size."""

import csv
import io
import itertools
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from voiceconfig.models import (
    AgentStatus,
    Call,
    Callback,
    CallbackState,
    CallStage,
    CallStatus,
    Department,
    DepartmentMember,
)
from voiceconfig.stats.live import live

pytestmark = pytest.mark.django_db
URL = "/voiceconfig/stats/live"
_sids = itertools.count(1)


def make_call(**fields) -> Call:
    return Call.objects.create(call_sid=f"CA{next(_sids):032x}", **fields)


def waiting(department, *, waited: int, now) -> Call:
    return make_call(
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.QUEUED,
        department=department,
        started_at=now - timedelta(seconds=waited),
        queued_at=now - timedelta(seconds=waited),
    )


@pytest.fixture
def floor(config, line, make_agent):
    """Sales (Paris) with six members, one of each status; Support (New York) with one; callers waiting."""
    now = timezone.now()
    config.time_zone = "Europe/Paris"
    config.save()
    sales = Department.objects.create(name="Sales", time_zone="Europe/Paris")
    support = Department.objects.create(name="Support", time_zone="America/New_York")
    fresh = {"last_heartbeat_at": now}
    agents = {
        "available": make_agent("available", status=AgentStatus.AVAILABLE),
        "wrapped": make_agent("wrapped", status=AgentStatus.WRAP_UP),  # wrap-up over: available
        "ringing": make_agent("ringing", status=AgentStatus.RINGING),
        "talking": make_agent("talking", status=AgentStatus.IN_CALL),
        "wrapping": make_agent("wrapping", status=AgentStatus.WRAP_UP),
        "away": make_agent("away", status=AgentStatus.UNAVAILABLE),
        "gone": make_agent("gone", status=AgentStatus.AVAILABLE),  # no heartbeat for an hour: offline
    }
    for name, agent in agents.items():
        updates = dict(fresh)
        if name == "wrapped":
            updates["wrap_up_until"] = now - timedelta(seconds=1)
        if name == "wrapping":
            updates["wrap_up_until"] = now + timedelta(seconds=60)
        if name == "gone":
            updates["last_heartbeat_at"] = now - timedelta(hours=1)
        type(agent).objects.filter(pk=agent.pk).update(**updates)
    for position, name in enumerate(["available", "wrapped", "ringing", "talking", "wrapping", "away"]):
        DepartmentMember.objects.create(department=sales, agent=agents[name], position=position)
    DepartmentMember.objects.create(department=support, agent=agents["gone"])
    make_call(status=CallStatus.IN_PROGRESS, stage=CallStage.CONNECTED, agent=agents["talking"], department=sales)
    waiting(sales, waited=41, now=now)
    waiting(sales, waited=10, now=now)
    waiting(None, waited=100, now=now)
    gone_caller = make_call(status=CallStatus.COMPLETED, stage=CallStage.ABANDONED, department=sales)
    Callback.objects.create(
        call=gone_caller,
        customer_number="+14155550111",
        queued_at=now,
        next_attempt_at=now,
        state=CallbackState.WAITING,
    )
    return {"sales": sales, "support": support, "agents": agents, "now": now}


def test_agents_and_waiting_callers_per_department_and_in_total(staff_client, floor):
    response = staff_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["timeZone"] == "Europe/Paris" and body["serviceLevelSeconds"] == 20
    sales, support = body["departments"]
    assert sales == {
        "department": floor["sales"].pk,
        "name": "Sales",
        "callersWaiting": 2,
        "longestWaitSeconds": sales["longestWaitSeconds"],
        "callbacksWaiting": 1,
        "agentsAvailable": 2,
        "agentsRinging": 1,
        "agentsOnCall": 1,
        "agentsWrapUp": 1,
        "agentsUnavailable": 1,
        "agentsOffline": 0,
        "offeredToday": 0,
        "answeredToday": 0,
        "serviceLevelToday": None,
    }
    assert 41 <= sales["longestWaitSeconds"] <= 43
    assert (support["callersWaiting"], support["agentsOffline"], support["agentsAvailable"]) == (0, 1, 0)
    total = body["total"]
    assert (total["department"], total["name"], total["callersWaiting"], total["callbacksWaiting"]) == (
        None,
        "All",
        3,
        1,
    )
    assert 100 <= total["longestWaitSeconds"] <= 102
    # Each agent once, though "gone" is in Support and the others in Sales.
    assert [total[key] for key in ("agentsAvailable", "agentsRinging", "agentsOnCall", "agentsWrapUp")] == [2, 1, 1, 1]
    assert (total["agentsUnavailable"], total["agentsOffline"]) == (1, 1)


def test_the_department_parameter_keeps_one_row(staff_client, floor):
    body = staff_client.get(URL, {"department": floor["support"].pk}).json()
    assert [row["name"] for row in body["departments"]] == ["Support"]
    assert body["total"]["callersWaiting"] == 3
    bad = staff_client.get(URL, {"department": "999999"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("department:")


def test_today_starts_at_each_departments_midnight(floor):
    sales, support = floor["sales"], floor["support"]
    # 00:30 UTC on 3 Dec: 01:30 in Paris (today began 23:00 UTC), 19:30 on 2 Dec in New York (began 05:00 UTC).
    now = datetime.fromisoformat("2026-12-03T00:30+00:00")

    def offered(department, started, *, wait, answered=True):
        make_call(
            status=CallStatus.COMPLETED,
            department=department,
            offered=True,
            started_at=datetime.fromisoformat(started),
            queued_at=datetime.fromisoformat(started),
            answered_at=datetime.fromisoformat(started) + timedelta(seconds=wait) if answered else None,
            wait_seconds=wait,
            abandoned=not answered,
            stage=CallStage.CONNECTED if answered else CallStage.ABANDONED,
        )

    offered(sales, "2026-12-02T23:10+00:00", wait=5)  # today in Paris
    offered(sales, "2026-12-02T23:20+00:00", wait=50)
    offered(sales, "2026-12-02T23:25+00:00", wait=2, answered=False)  # a short abandon: not in the denominator
    offered(sales, "2026-12-02T22:50+00:00", wait=5)  # yesterday in Paris
    offered(support, "2026-12-02T22:50+00:00", wait=5)  # today in New York
    offered(support, "2026-12-02T04:50+00:00", wait=5)  # yesterday in New York
    body = live(now=now)
    rows = {row["name"]: row for row in body["departments"]}
    assert (rows["Sales"]["offeredToday"], rows["Sales"]["answeredToday"], rows["Sales"]["serviceLevelToday"]) == (
        3,
        2,
        0.5,
    )
    assert (rows["Support"]["offeredToday"], rows["Support"]["serviceLevelToday"]) == (1, 1.0)
    # The total's today is the config's (Paris): the three of Sales.
    assert (body["total"]["offeredToday"], body["total"]["answeredToday"]) == (3, 2)


def test_csv_one_row_per_department_then_the_total(staff_client, floor):
    response = staff_client.get(URL, {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["name"] for row in rows] == ["Sales", "Support", "All"]
    assert list(rows[0]) == list(staff_client.get(URL).json()["total"])
    assert rows[2]["department"] == "" and rows[0]["serviceLevelToday"] == ""


def _queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        live()
    return len(queries)


def test_a_fixed_number_of_queries_whatever_the_size(floor, make_agent, django_assert_max_num_queries):
    small = _queries()
    now = timezone.now()
    for n in range(8):
        department = Department.objects.create(name=f"Queue {n}", time_zone="Asia/Tokyo")
        for m in range(4):
            agent = make_agent(f"more{n}_{m}", status=AgentStatus.AVAILABLE)
            DepartmentMember.objects.create(department=department, agent=agent)
        for _ in range(5):
            waiting(department, waited=5, now=now)
            make_call(status=CallStatus.COMPLETED, department=department, offered=True, started_at=now)
    # The config's zone, agents, their live calls, departments, members, callers waiting per department, callbacks
    # per department, today per department, today in total, the whole queue.
    assert _queries() == small == 10, small
    with django_assert_max_num_queries(10):
        live()
