"""GET /voiceconfig/stats/live: the floor now, per department and in total.

Agents by the status routing would use now (the admin overview's agent_rows, the one rule of
calls/availability.py), callers and callbacks waiting, and calls offered and answered since the local midnight.
A fixed number of queries whatever the number of agents, departments and calls (tests/test_stats_live.py).
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, DateTimeField, Min, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..admin_overview_departments import department_rows
from ..admin_views import CALLBACKS_PENDING, agent_rows, waiting_calls
from ..calls.departments import effective_department
from ..models import AgentStatus, Call, Callback
from . import figures, zones

SERVICE_LEVEL_SECONDS = 20
SHORT_ABANDON_SECONDS = 5

STATUS_COLUMNS = {
    AgentStatus.AVAILABLE: "agentsAvailable",
    AgentStatus.RINGING: "agentsRinging",
    AgentStatus.IN_CALL: "agentsOnCall",
    AgentStatus.WRAP_UP: "agentsWrapUp",
    AgentStatus.UNAVAILABLE: "agentsUnavailable",
    AgentStatus.OFFLINE: "agentsOffline",
}


def _agents(statuses: list[str]) -> dict:
    counts = dict.fromkeys(STATUS_COLUMNS.values(), 0)
    for status in statuses:
        counts[STATUS_COLUMNS[status]] += 1
    return counts


def _today(group: dict | None) -> dict:
    row = figures.finish(group)
    return {"offeredToday": row["offered"], "answeredToday": row["answered"], "serviceLevelToday": row["serviceLevel"]}


def _measures() -> dict:
    all_of = figures.aggregates(
        service_level_seconds=SERVICE_LEVEL_SECONDS, short_abandon_seconds=SHORT_ABANDON_SECONDS
    )
    return {key: all_of[key] for key in ("n_offered", "n_answered", "n_short_abandoned", "within")}


def _midnight(zone_name: str, now: datetime) -> datetime:
    zone = ZoneInfo(zone_name)
    return zones.day_start(zones.today(zone, now), zone)


def live(*, department_id: int | None = None, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    config_zone = zones.config_time_zone()
    agents = agent_rows(now=now)
    queue = waiting_calls()
    departments = department_rows(agent_rows=agents, queue=queue, now=now)
    if department_id is not None:
        departments = [row for row in departments if row.department.pk == department_id]

    callbacks = dict(
        Callback.objects.filter(state__in=CALLBACKS_PENDING)
        .annotate(waits_in=Coalesce("call__department_id", "call__phone_line__default_department_id"))
        .values("waits_in")
        .annotate(count=Count("id"))
        .values_list("waits_in", "count")
    )
    # Today starts at each department's local midnight: one grouped query, each call compared with its
    # department's start (a CASE over the few departments), the total with the config's.
    starts = {row.department.pk: _midnight(row.department.time_zone, now) for row in departments}
    config_start = _midnight(config_zone, now)
    today_by_department = {}
    if starts:
        since = Case(
            *(When(waits_in=pk, then=Value(start)) for pk, start in starts.items()),
            output_field=DateTimeField(),
        )
        today_by_department = {
            group["waits_in"]: group
            for group in Call.objects.filter(started_at__gte=min(starts.values()))
            .annotate(waits_in=effective_department())
            .filter(waits_in__in=list(starts), started_at__gte=since)
            .values("waits_in")
            .annotate(**_measures())
        }
    total_today = Call.objects.filter(started_at__gte=config_start).aggregate(**_measures())
    queue_total = queue.aggregate(count=Count("id"), oldest=Min("queued_at"))

    rows = []
    for row in departments:
        pk = row.department.pk
        # A department that lists nobody is answered by everyone (as routing does).
        statuses = [agent.status for agent, _ in row.members] if row.members else [agent.status for agent in agents]
        rows.append(
            {
                "department": pk,
                "name": row.department.name,
                "callersWaiting": row.waiting_count,
                "longestWaitSeconds": row.longest_wait_seconds,
                "callbacksWaiting": callbacks.get(pk, 0),
                **_agents(statuses),
                **_today(today_by_department.get(pk)),
            }
        )
    oldest = queue_total["oldest"]
    total = {
        "department": None,
        "name": "All",
        "callersWaiting": queue_total["count"],
        "longestWaitSeconds": int(max((now - oldest).total_seconds(), 0)) if oldest else None,
        "callbacksWaiting": sum(callbacks.values()),
        **_agents([agent.status for agent in agents]),
        **_today(total_today),
    }
    return {
        "at": now,
        "timeZone": config_zone,
        "serviceLevelSeconds": SERVICE_LEVEL_SECONDS,
        "departments": rows,
        "total": total,
    }
