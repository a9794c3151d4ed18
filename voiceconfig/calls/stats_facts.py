"""The statistics' facts of a call, stored when it ends (issue 17, docs/statistics.md).

The summary counts plain columns, so what a figure needs is decided here, once, as the call ends:
- offered: an inbound call that reached the queue (queued_at set). Outbound calls are never offered.
- abandoned: offered, and the caller hung up while still waiting (the stage machine's `abandoned`, reached from
  the queue). Whether it was a *short* abandon depends on the threshold a report asks for, so it is read from
  wait_seconds at query time.
- wrap_up_seconds: the wrap-up the agent was given at the end (the config's), cut short when the agent chose a
  status before it ran out (presence.agent_set_status).
Two facts are stored when they happen rather than at the end: `transferred` (a transfer's new party took the
call, transfers.py / department_transfer.py) and `after_hours` (the line was closed, call_note_after_hours).

On PostgreSQL the status statement (sql.py) stores the same facts in its one UPDATE; tests/test_stats_facts.py pins
both paths to the same values.
"""

from django.db.models import Q
from django.utils import timezone

from ..models import AgentStatus, Call, CallDirection, CallEvent, CallStage, MissedRing, VoiceAgent
from .log import call_log_add

STATS_FACT_FIELDS = ("offered", "abandoned", "wrap_up_seconds")


def settle_stats_facts(call: Call, *, wrap_up_seconds: int | None = None) -> set[str]:
    """Set the call's end facts in memory (the caller saves the returned fields). `wrap_up_seconds`: the wrap-up
    the agent was just given, when this end started one."""
    call.offered = call.direction == CallDirection.INBOUND and call.queued_at is not None
    # Answered first and requeued later (a transfer nobody took) is an answered call, never also an abandoned one.
    call.abandoned = call.offered and call.stage == CallStage.ABANDONED and call.answered_at is None
    fields = {"offered", "abandoned"}
    if wrap_up_seconds is not None:
        call.wrap_up_seconds = wrap_up_seconds
        fields.add("wrap_up_seconds")
    return fields


def call_note_after_hours(*, call: Call, message: str) -> None:
    """The line was closed when the call came in: store the fact and log it (once, however often Twilio asks)."""
    if not call.after_hours:
        Call.objects.filter(pk=call.pk).update(after_hours=True, updated_at=timezone.now())
        call.after_hours = True
    call_log_add(call=call, call_sid=call.call_sid, event=CallEvent.ROUTING, dedupe_key="after-hours", message=message)


def call_mark_transferred(*, call_id: int) -> None:
    """A transfer's new party took the call."""
    Call.objects.filter(pk=call_id, transferred=False).update(transferred=True, updated_at=timezone.now())


def agent_cut_wrap_up(*, agent: VoiceAgent, now) -> None:
    """The agent left wrap-up early (chose a status): their last call's wrap-up is the time actually spent."""
    if agent.status != AgentStatus.WRAP_UP or not agent.wrap_up_until or agent.wrap_up_until <= now:
        return
    ended = agent.last_call_ended_at
    if ended is None:
        return
    spent = max(0, int((now - ended).total_seconds()))
    last = Call.objects.filter(agent=agent, ended_at__isnull=False).order_by("-ended_at", "-id").values("pk")[:1]
    Call.objects.filter(Q(pk__in=last), wrap_up_seconds__gt=spent).update(wrap_up_seconds=spent)


def agent_note_missed_ring(*, agent_id: int, call: Call, now) -> None:
    """The agent was rung for a waiting caller and did not answer (their `missed` figure)."""
    MissedRing.objects.create(agent_id=agent_id, call=call, at=now)
