"""GET /voiceconfig/stats/summary: the historical figures of calls started in a range of local days.

A fixed number of aggregate queries whatever the number of calls: the groups, the total, and for agents their
missed rings and staffed time. Calls are picked by started_at through call_started_idx.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Greatest, Least, TruncDate, TruncHour

from ..calls.departments import effective_department
from ..models import AgentSession, Call, Department, MissedRing, PhoneLine, VoiceAgent
from . import figures, zones

GROUP_BY = ("day", "hour", "department", "agent", "line")
MAX_DAYS = 366


@dataclass(frozen=True)
class SummaryQuery:
    start_day: date
    end_day: date
    group_by: str
    time_zone: str
    department: Department | None
    service_level_seconds: int
    short_abandon_seconds: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def start(self) -> datetime:
        return zones.day_start(self.start_day, self.zone)

    @property
    def end(self) -> datetime:
        return zones.day_start(self.end_day + timedelta(days=1), self.zone)


def _calls(query: SummaryQuery) -> QuerySet[Call]:
    calls = Call.objects.filter(started_at__gte=query.start, started_at__lt=query.end)
    if query.department is not None:
        calls = calls.annotate(waits_in=effective_department()).filter(waits_in=query.department.pk)
    return calls


def _groups(query: SummaryQuery, calls: QuerySet[Call], measures: dict) -> list[dict]:
    if query.group_by == "day":
        return list(calls.annotate(key=TruncDate("started_at", tzinfo=query.zone)).values("key").annotate(**measures))
    if query.group_by == "hour":
        return list(
            calls.annotate(local=TruncHour("started_at", tzinfo=query.zone), utc=TruncHour("started_at", tzinfo=UTC))
            .values("local", "utc")
            .annotate(**measures)
        )
    column = {"department": effective_department(), "agent": F("agent_id"), "line": F("phone_line_id")}
    return list(calls.annotate(key=column[query.group_by]).values("key").annotate(**measures))


def _day_rows(query: SummaryQuery, groups: list[dict]) -> list[dict]:
    by_day = {group["key"]: group for group in groups}
    rows, day = [], query.start_day
    while day <= query.end_day:
        rows.append({"key": day.isoformat(), "label": zones.day_label(day), **figures.finish(by_day.get(day))})
        day += timedelta(days=1)
    return rows


def _hour_rows(query: SummaryQuery, groups: list[dict]) -> list[dict]:
    zone, by_hour = query.zone, {}
    for group in groups:
        at = zones.hour_of(group["local"].replace(tzinfo=None), group["utc"], zone).astimezone(UTC)
        by_hour[at] = figures.add(by_hour.get(at, {}), group)
    rows = []
    for at in zones.local_hours(query.start, query.end, zone):
        repeated = at.replace(fold=1 - at.fold).utcoffset() != at.utcoffset()
        label = f"{zones.day_label(at.date())} {at:%H}:00" + (f" {at:%z}" if repeated else "")
        group = by_hour.get(at.astimezone(UTC))
        rows.append({"key": zones.hour_key(at), "label": label, **figures.finish(group)})
    return rows


def _labels(group_by: str, keys: list) -> dict:
    ids = [key for key in keys if key is not None]
    if group_by == "department":
        return dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
    if group_by == "line":
        return dict(PhoneLine.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {agent.pk: str(agent) for agent in VoiceAgent.objects.filter(pk__in=ids).only("display_name", "identity")}


NO_ENTITY = {"department": "No department", "agent": "No agent", "line": "No line"}


def _staffed(query: SummaryQuery) -> dict:
    """Each agent's staffed seconds in the range: their sessions' overlap with it (docs/statistics.md)."""
    overlap = ExpressionWrapper(
        Least(F("ended_at"), query.end) - Greatest(F("started_at"), query.start), output_field=DurationField()
    )
    rows = (
        AgentSession.objects.filter(ended_at__gt=query.start, started_at__lt=query.end)
        .values("agent_id")
        .annotate(staffed=Sum(overlap))
    )
    return {row["agent_id"]: row["staffed"].total_seconds() if row["staffed"] else 0 for row in rows}


def _missed(query: SummaryQuery) -> dict:
    rings = MissedRing.objects.filter(at__gte=query.start, at__lt=query.end)
    if query.department is not None:
        rings = rings.filter(
            Q(call__department=query.department)
            | Q(call__department__isnull=True, call__phone_line__default_department=query.department)
        )
    return {row["agent_id"]: row["missed"] for row in rings.values("agent_id").annotate(missed=Count("id"))}


def _entity_rows(query: SummaryQuery, groups: list[dict]) -> tuple[list[dict], dict | None]:
    by_key = {group["key"]: group for group in groups}
    per_agent = None
    if query.group_by == "agent":
        staffed, missed = _staffed(query), _missed(query)
        for agent_id in {*staffed, *missed}:
            by_key.setdefault(agent_id, {})
        per_agent = {key: {"staffed": staffed.get(key), "missed": missed.get(key)} for key in by_key}
    labels = _labels(query.group_by, list(by_key))
    ordered = sorted(by_key, key=lambda key: (key is None, str(labels.get(key, "")).lower(), key or 0))
    rows = [
        {
            "key": key,
            "label": labels.get(key, NO_ENTITY[query.group_by]) if key is not None else NO_ENTITY[query.group_by],
            **figures.finish(by_key[key], per_agent=per_agent[key] if per_agent else None),
        }
        for key in ordered
    ]
    total_agent = None
    if per_agent is not None:
        total_agent = {
            "staffed": sum(value["staffed"] or 0 for value in per_agent.values()),
            "missed": sum(value["missed"] or 0 for value in per_agent.values()),
        }
    return rows, total_agent


def summary(query: SummaryQuery) -> dict:
    measures = figures.aggregates(
        service_level_seconds=query.service_level_seconds, short_abandon_seconds=query.short_abandon_seconds
    )
    calls = _calls(query)
    groups = _groups(query, calls, measures)
    total_agent = None
    if query.group_by == "day":
        rows = _day_rows(query, groups)
    elif query.group_by == "hour":
        rows = _hour_rows(query, groups)
    else:
        rows, total_agent = _entity_rows(query, groups)
    # The total is the sum of the groups (every call is in exactly one): no second pass over the calls.
    total: dict = {}
    for group in groups:
        figures.add(total, group)
    return {
        "from": query.start_day.isoformat(),
        "to": query.end_day.isoformat(),
        "groupBy": query.group_by,
        "timeZone": query.time_zone,
        "serviceLevelSeconds": query.service_level_seconds,
        "shortAbandonSeconds": query.short_abandon_seconds,
        "rows": rows,
        "total": {"key": "total", "label": "Total", **figures.finish(total, per_agent=total_agent)},
    }
