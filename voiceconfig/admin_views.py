"""The admin's live overview: who is available, who is on which call, how many callers wait and for how long.

A wallboard for a contact-centre manager. It reads a fixed number of queries whatever the number of agents or
calls (agents with their live call prefetched, one aggregate for the queue, the first few waiting callers), so it
stays cheap when many managers keep it open and it refreshes itself.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, Min, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from .admin_overview_departments import department_rows
from .calls import is_free, is_online
from .models import AgentStatus, Call, Callback, CallbackState, CallStage, VoiceAgent

# How many waiting callers the page lists by name; the count and the longest wait cover the rest.
WAITING_LISTED = 10
REFRESH_SECONDS = 10


def format_duration(seconds: int | None) -> str:
    """12 s, 3 min 05 s, 1 h 02 min: how a wallboard shows a wait."""
    if seconds is None:
        return "–"
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def waiting_calls() -> QuerySet[Call]:
    """Callers in the queue, not yet talking to anyone (an agent may be ringing for them). Reads the partial
    index on stage='queued', so the count stays cheap however many calls the table holds."""
    return Call.objects.active().filter(stage=CallStage.QUEUED, queued_at__isnull=False)


@dataclass(frozen=True)
class AgentRow:
    agent: VoiceAgent
    status: str  # one of AgentStatus values, as the platform would treat the agent right now
    label: str
    note: str
    call: Call | None
    heartbeat_ago: str

    @property
    def is_available(self) -> bool:
        return self.status == AgentStatus.AVAILABLE


def effective_status(agent: VoiceAgent, *, now: datetime, live_call: Call | None) -> tuple[str, str]:
    """The status routing would use now, and a note saying why it differs from the stored one.

    The one rule of voiceconfig.calls.availability: an agent whose console stopped sending heartbeats is offline;
    an agent in wrap-up is available once the wrap-up end has passed; an agent with a live call is busy. Busy
    states (ringing, in a call) are what the platform set and are shown as stored.
    """
    status = agent.status
    if is_free(agent, now=now):
        status = AgentStatus.AVAILABLE
    if status == AgentStatus.AVAILABLE and not is_online(agent, now=now):
        seen = agent.last_heartbeat_at
        when = f"since {timezone.localtime(seen):%H:%M}" if seen else "ever"
        return AgentStatus.OFFLINE, f"set available, but no heartbeat {when}"
    if status == AgentStatus.AVAILABLE and live_call is not None:
        return AgentStatus.IN_CALL, f"still on call {live_call.call_sid}"
    if status == AgentStatus.WRAP_UP and agent.wrap_up_until:
        return status, f"until {timezone.localtime(agent.wrap_up_until):%H:%M:%S}"
    return status, ""


CALLBACKS_PENDING = [CallbackState.WAITING, CallbackState.RINGING_AGENT, CallbackState.DIALING]


def agent_rows(*, now: datetime) -> list[AgentRow]:
    """Every agent with the status routing would use now (two queries: agents, their live calls). Also the
    statistics' live figures (voiceconfig/stats/live.py)."""
    live_calls = Call.objects.active().select_related("phone_line").order_by("-created_at")
    agents = VoiceAgent.objects.select_related("user").prefetch_related(
        Prefetch("calls", queryset=live_calls, to_attr="live_calls")
    )
    rows = []
    for agent in agents:
        call = next(iter(agent.live_calls), None)
        status, note = effective_status(agent, now=now, live_call=call)
        seen = agent.last_heartbeat_at
        ago = f"{format_duration((now - seen).total_seconds())} ago" if seen else "never"
        label = AgentStatus(status).label
        rows.append(AgentRow(agent=agent, status=status, label=label, note=note, call=call, heartbeat_ago=ago))
    return rows


def overview_data(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rows = agent_rows(now=now)
    # Available first, then busy ones, then the rest; by name within a group.
    order = {
        AgentStatus.AVAILABLE: 0,
        AgentStatus.RINGING: 1,
        AgentStatus.IN_CALL: 1,
        AgentStatus.WRAP_UP: 2,
        AgentStatus.UNAVAILABLE: 3,
        AgentStatus.OFFLINE: 4,
    }
    rows.sort(key=lambda row: (order.get(row.status, 5), str(row.agent).lower()))

    queue = waiting_calls()
    totals = queue.aggregate(count=Count("id"), oldest=Min("queued_at"))
    longest_wait = max((now - totals["oldest"]).total_seconds(), 0) if totals["oldest"] else None
    waiting = [
        {"call": call, "wait": format_duration((now - call.queued_at).total_seconds())}
        for call in queue.select_related("phone_line", "agent").order_by("queued_at", "id")[:WAITING_LISTED]
    ]
    return {
        "now": now,
        "agents": rows,
        "available_count": sum(1 for row in rows if row.is_available),
        "on_call_count": sum(1 for row in rows if row.call is not None),
        "waiting_count": totals["count"],
        "longest_wait_seconds": None if longest_wait is None else int(longest_wait),
        "longest_wait": format_duration(longest_wait),
        "waiting": waiting,
        "waiting_more": max(totals["count"] - len(waiting), 0),
        # Queued callbacks keep their place among the waiting callers (issue 19).
        "callbacks_waiting_count": Callback.objects.filter(state__in=CALLBACKS_PENDING).count(),
        "heartbeat_timeout_seconds": settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS,
        "departments": [
            {"row": row, "longest_wait": format_duration(row.longest_wait_seconds)}
            for row in department_rows(agent_rows=rows, queue=queue, now=now)
        ],
    }


def refresh_seconds(request: HttpRequest) -> int:
    """`?refresh=N` lets a wallboard screen refresh faster or slower (2 s to 5 min)."""
    try:
        wanted = int(request.GET.get("refresh", REFRESH_SECONDS))
    except ValueError:
        wanted = REFRESH_SECONDS
    return min(max(wanted, 2), 300)


def overview(request: HttpRequest) -> HttpResponse:
    """The live overview page inside the admin (wrapped by admin_site.admin_view: staff only)."""
    context = {
        **admin.site.each_context(request),
        **overview_data(),
        "title": "Live overview",
        "refresh_seconds": refresh_seconds(request),
    }
    response = TemplateResponse(request, "admin/voiceconfig/overview.html", context)
    # The page refreshes itself; an intermediary must never serve a stale wallboard.
    response["Cache-Control"] = "no-store"
    return response
