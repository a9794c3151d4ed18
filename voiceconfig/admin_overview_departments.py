"""The live overview, grouped by department (issue 16): per department its strategy, callers waiting and the
longest wait, and its members by the status routing would use now. Three queries whatever the size."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Min, Prefetch

from .calls.departments import effective_department
from .models import AgentStatus, Department, DepartmentMember


@dataclass
class DepartmentRow:
    department: Department
    waiting_count: int = 0
    longest_wait_seconds: int | None = None
    members: list = field(default_factory=list)  # (AgentRow, level)

    @property
    def available_count(self) -> int:
        return sum(1 for row, _ in self.members if row.status == AgentStatus.AVAILABLE)


def department_rows(*, agent_rows: list, queue, now: datetime) -> list[DepartmentRow]:
    """`agent_rows` are the overview's AgentRows (their status already worked out); `queue` its waiting calls."""
    by_agent = {row.agent.pk: row for row in agent_rows}
    departments = Department.objects.prefetch_related(
        Prefetch("members", queryset=DepartmentMember.objects.order_by("level", "position", "id"))
    ).order_by("name")
    waiting = {
        row["waits_in"]: row
        for row in queue.annotate(waits_in=effective_department())
        .values("waits_in")
        .annotate(count=Count("id"), oldest=Min("queued_at"))
    }
    rows = []
    for department in departments:
        totals = waiting.get(department.pk, {})
        oldest = totals.get("oldest")
        rows.append(
            DepartmentRow(
                department=department,
                waiting_count=totals.get("count", 0),
                longest_wait_seconds=int(max((now - oldest).total_seconds(), 0)) if oldest else None,
                members=[
                    (by_agent[member.agent_id], member.level)
                    for member in department.members.all()
                    if member.agent_id in by_agent
                ],
            )
        )
    return rows
