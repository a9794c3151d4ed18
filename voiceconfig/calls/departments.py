"""Which department a waiting caller is in, which of its members may take them now, and what they know about
those members (issue 16).

A caller waits in their call's department (an IVR option's, or a transfer's), else their line's default; a call
with neither follows the line rule (availability.py). A department that lists nobody is answered by everyone,
as a line that lists nobody is (the data migration made such departments from such lines).

Levels: a member at level L may take a caller who has waited (L - best) x widen_after_seconds, where best is the
department's best (lowest) member level; with no widen_after_seconds every level may, best level first.
Overflow: once a caller has waited overflow_after_seconds, the overflow department's members may take them too,
after the department's own.
"""

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, IntegerField, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ..department_models import WORST_LEVEL
from ..models import Call, Department, DepartmentMember
from .availability import available_agents
from .strategies import Candidate, needs_today

# Overflow members rank after every level of the department's own members.
OVERFLOW_LEVEL_OFFSET = WORST_LEVEL + 1


def effective_department():
    """The department a call waits in, as an expression over the call row (for annotate/filter)."""
    return Coalesce(F("department_id"), F("phone_line__default_department_id"))


def department_id_of(call: Call) -> int | None:
    if call.department_id:
        return call.department_id
    line = call.phone_line if call.phone_line_id else None
    return line.default_department_id if line is not None else None


def waited_seconds(call: Call, now: datetime) -> float:
    since = call.queued_at or now
    return max(0.0, (now - since).total_seconds())


def open_level(*, best_level: int, widen_after_seconds: int | None, waited: float) -> int:
    """The worst level that may take a caller who has waited `waited` seconds."""
    if not widen_after_seconds:
        return WORST_LEVEL
    return best_level + int(waited // widen_after_seconds)


def overflowing(department: Department, waited: float) -> bool:
    return (
        department.overflow_department_id is not None
        and department.overflow_after_seconds is not None
        and waited >= department.overflow_after_seconds
    )


def start_of_today(time_zone: str, now: datetime) -> datetime:
    zone = ZoneInfo(time_zone or "UTC")
    return datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)


@dataclass
class Pool:
    candidates: list[Candidate]  # free members the caller may be offered to now
    last_agent_position: int | None  # round-robin's memory, as a listed position


def _with_today(queryset, *, agent_field: str, since: datetime):
    answered = Call.objects.filter(agent_id=OuterRef(agent_field), answered_at__gte=since).order_by()
    return queryset.annotate(
        calls_today=Coalesce(
            Subquery(answered.values("agent_id").annotate(n=Count("pk")).values("n")[:1]),
            Value(0),
            output_field=IntegerField(),
        ),
        talk_today=Coalesce(
            Subquery(answered.values("agent_id").annotate(s=Sum("talk_seconds")).values("s")[:1]),
            Value(0),
            output_field=IntegerField(),
        ),
    )


def pool_for(*, department: Department, call: Call, now: datetime, exclude_agent_ids=()) -> Pool:
    """The free members who may take `call` now, with what the strategy needs. One query (two for a
    department that lists nobody), whatever the number of members."""
    waited = waited_seconds(call, now)
    department_ids = [department.pk]
    if overflowing(department, waited):
        department_ids.append(department.overflow_department_id)
    free = available_agents(line=None, now=now).filter(pk=OuterRef("agent_id")).order_by()
    members = DepartmentMember.objects.filter(department_id__in=department_ids).annotate(
        free=Exists(free), idle_since=F("agent__last_call_ended_at")
    )
    today = needs_today(department.strategy)
    if today:
        members = _with_today(members, agent_field="agent_id", since=start_of_today(department.time_zone, now))
    rows = list(members.values(*_fields(today, "department_id", "agent_id", "level", "position", "free", "idle_since")))
    own = [row for row in rows if row["department_id"] == department.pk]
    if not own:
        rows = _everyone(now=now, today=today, department=department) + [
            row for row in rows if row["department_id"] != department.pk
        ]
        own = [row for row in rows if row["department_id"] == department.pk]
    best = min(row["level"] for row in own) if own else 1
    widest = open_level(best_level=best, widen_after_seconds=department.widen_after_seconds, waited=waited)
    excluded = set(exclude_agent_ids)
    candidates = []
    for row in rows:
        is_own = row["department_id"] == department.pk
        if not row["free"] or row["agent_id"] in excluded or (is_own and row["level"] > widest):
            continue
        candidates.append(
            Candidate(
                agent_id=row["agent_id"],
                level=row["level"] if is_own else OVERFLOW_LEVEL_OFFSET + row["level"],
                position=row["position"],
                idle_since=row["idle_since"],
                calls_today=row.get("calls_today", 0),
                talk_seconds_today=row.get("talk_today", 0),
            )
        )
    # An agent in both departments counts at their own department's level: rank own rows first.
    candidates.sort(key=lambda c: c.level)
    last_position = next(
        (row["position"] for row in own if department.last_agent_id and row["agent_id"] == department.last_agent_id),
        None,
    )
    return Pool(candidates=_dedupe(candidates), last_agent_position=last_position)


def _dedupe(candidates: list[Candidate]) -> list[Candidate]:
    seen, kept = set(), []
    for candidate in candidates:
        if candidate.agent_id not in seen:
            seen.add(candidate.agent_id)
            kept.append(candidate)
    return kept


def _fields(today: bool, *names: str) -> list[str]:
    return [*names, "calls_today", "talk_today"] if today else list(names)


def _everyone(*, now: datetime, today: bool, department: Department) -> list[dict]:
    """A department that lists nobody: every free agent, at the best level, in id order."""
    agents = available_agents(line=None, now=now).order_by("id")
    if today:
        agents = _with_today(agents, agent_field="pk", since=start_of_today(department.time_zone, now))
    rows = agents.values(*_fields(today, "id", "last_call_ended_at"))
    return [
        {
            **row,
            "department_id": department.pk,
            "agent_id": row["id"],
            "level": 1,
            "position": index,
            "free": True,
            "idle_since": row["last_call_ended_at"],
        }
        for index, row in enumerate(rows)
    ]


def may_take(*, agent_id: int, call: Call, now: datetime) -> bool:
    """Whether an agent the queue query matched (a member of the call's department or its overflow) may take the
    call by the time rules: their level is open, or the call has overflowed to them."""
    department_id = department_id_of(call)
    if department_id is None:
        return True
    department = (
        Department.objects.filter(pk=department_id)
        .annotate(
            best=Min("members__level"),
        )
        .first()
    )
    if department is None:
        return True
    level = DepartmentMember.objects.filter(department_id=department_id, agent_id=agent_id).values_list(
        "level", flat=True
    )
    level = next(iter(level), None)
    waited = waited_seconds(call, now)
    if level is None:  # not a member: the department lists nobody, or the call overflowed to them
        return department.best is None or overflowing(department, waited)
    return level <= open_level(
        best_level=department.best, widen_after_seconds=department.widen_after_seconds, waited=waited
    )
