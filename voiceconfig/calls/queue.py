"""The queue: callers waiting for an agent (stage `queued`, no agent), longest waiting first.

Waiting is a stage move like any other (stage.py), so a replayed IVR answer cannot put a connected caller back
in line. Leaving the queue for voicemail is decided under the call's row lock, so no agent can be reserved for a
caller at the moment they are sent elsewhere.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import TERMINAL_CALL_STATUSES, Call, CallEvent, CallStage, Department, DepartmentMember, VoiceAgent
from . import sql
from .availability import LineMembers
from .departments import effective_department
from .log import call_log_add
from .ringall import has_live_offers, live_offer_exists
from .stage import TRANSITIONS, StageEvent, call_move_stage, next_stage
from .status import is_terminal
from .timing import seconds_between


def is_waiting(call: Call) -> bool:
    return call.stage == CallStage.QUEUED and call.agent_id is None and not is_terminal(call.status)


def waiting_calls(*, agent: VoiceAgent | None = None) -> QuerySet[Call]:
    """Callers waiting for an agent, longest waiting first; with `agent`, only those the agent may answer: of
    their departments (or a department's overflow, or one that lists nobody), else of lines they answer.

    The time rules of levels and overflow are checked on the chosen call (departments.may_take)."""
    # A caller whose ring-all offers are ringing is not matched again meanwhile.
    queryset = (
        Call.objects.filter(stage=CallStage.QUEUED, agent__isnull=True)
        .exclude(status__in=TERMINAL_CALL_STATUSES)
        .exclude(live_offer_exists())
    )
    if agent is not None:
        by_line = Exists(
            LineMembers.objects.filter(phoneline_id=OuterRef("phone_line_id"), voiceagent_id=agent.pk)
        ) | ~Exists(LineMembers.objects.filter(phoneline_id=OuterRef("phone_line_id")))
        queryset = queryset.annotate(waits_in=effective_department()).filter(
            (Q(waits_in__isnull=True) & by_line) | (Q(waits_in__isnull=False) & department_takes(agent))
        )
    return queryset.order_by("queued_at", "id")


def department_takes(agent: VoiceAgent) -> Q:
    """Calls waiting in a department the agent is a member of, or overflows to them, or that lists nobody."""
    members = DepartmentMember.objects.filter(agent_id=agent.pk)
    overflow_of = Department.objects.filter(pk=OuterRef(OuterRef("waits_in"))).values("overflow_department_id")[:1]
    return Q(
        Exists(members.filter(department_id=OuterRef("waits_in")))
        | Exists(members.filter(department_id=Subquery(overflow_of)))
        | ~Exists(DepartmentMember.objects.filter(department_id=OuterRef("waits_in")))
    )


def is_talking(*, call_id: int) -> bool:
    """Whether an agent has answered the live caller by now (read again after a slow request to Twilio)."""
    return (
        Call.objects.filter(pk=call_id, stage=CallStage.CONNECTED).exclude(status__in=TERMINAL_CALL_STATUSES).exists()
    )


def call_enqueue(*, call: Call, department_id: int | None = None) -> bool:
    """The caller starts waiting for an agent (keeps the first queued_at), in `department_id` when given (an IVR
    option's department; else the line's). False when the call is past that."""
    now, queued_at = timezone.now(), call.queued_at
    extra = {"department_id": department_id} if department_id else {}
    if not call_move_stage(call=call, event=StageEvent.ENQUEUE, queued_at=Coalesce("queued_at", Value(now)), **extra):
        return False
    call.queued_at = queued_at or now
    return True


def call_choose_and_enqueue(
    *, call: Call, digit: str, department_id: int | None, dedupe_key: str, message: str, data: dict
) -> bool:
    """The caller picked an IVR option that routes to an agent: their entry on the timeline (deduplicated by
    `dedupe_key`), the choice, and the start of their wait. Whether they were enqueued (False: past that, or ended).

    On PostgreSQL one statement (sql.choose_and_enqueue, issue 14); elsewhere the three ORM steps it replaces.
    """
    if sql.is_available():
        return sql.choose_and_enqueue(
            call=call,
            digit=digit,
            department_id=department_id,
            dedupe_key=dedupe_key,
            log_status=call.status,
            message=message,
            data=data,
            choice_from=sorted(TRANSITIONS[StageEvent.CHOICE][0]),
            enqueue_from=sorted(TRANSITIONS[StageEvent.ENQUEUE][0]),
            now=timezone.now(),
        )
    return choose_and_enqueue_by_orm(
        call=call, digit=digit, department_id=department_id, dedupe_key=dedupe_key, message=message, data=data
    )


def choose_and_enqueue_by_orm(
    *, call: Call, digit: str, department_id: int | None, dedupe_key: str, message: str, data: dict
) -> bool:
    """What call_choose_and_enqueue does on SQLite (and did everywhere before issue 14): three statements."""
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.IVR_INPUT,
        dedupe_key=dedupe_key,
        call_status=call.status,
        message=message,
        data=data,
    )
    call_move_stage(call=call, event=StageEvent.CHOICE, ivr_choice=digit)
    return call_enqueue(call=call, department_id=department_id)


@transaction.atomic
def call_leave_queue(*, call_sid: str, stage: str, max_wait_seconds: int, now: datetime | None = None) -> Call | None:
    """A caller who waited `max_wait_seconds` with nobody ringing leaves the queue for `stage` (voicemail/message).

    Returns the call when it left now; None when it is not waiting any more (an agent took it, it ended) or
    has not waited long enough.
    """
    now = now or timezone.now()
    call = Call.objects.select_for_update().filter(call_sid=call_sid).first()
    if call is None or not is_waiting(call):
        return None
    # A caller requeued after a transfer nobody answered gets the full wait again, from the requeue.
    waiting_since = call.requeued_at or call.queued_at
    if waiting_since and (now - waiting_since).total_seconds() < max_wait_seconds:
        return None
    if has_live_offers(call):  # members of a ring-all are ringing for them: someone is ringing
        return None
    event = StageEvent.VOICEMAIL if stage == CallStage.VOICEMAIL else StageEvent.MESSAGE
    target = next_stage(call.stage, event)
    call_left_queue(
        call=call,
        event=event,
        now=now,
        dedupe_key=f"left-queue:{target}",
        message=f"Nobody answered within {max_wait_seconds} s: the caller goes to {target}.",
    )
    return call


def call_left_queue(*, call: Call, event: str, now: datetime, dedupe_key: str, message: str) -> None:
    """Record a waiting caller (locked by the caller) leaving the queue: the stage `event` moves it to, the wait
    it ends, and one routing line on the timeline."""
    call.stage = next_stage(call.stage, event)
    call.wait_seconds = seconds_between(call.queued_at, now)
    call.save(update_fields=["stage", "wait_seconds", "updated_at"])
    call_log_add(call=call, call_sid=call.call_sid, event=CallEvent.ROUTING, dedupe_key=dedupe_key, message=message)


def call_back_to_queue(*, call: Call, reason: str) -> None:
    """Undo call_leave_queue when sending the caller elsewhere failed: they keep waiting."""
    call_move_stage(call=call, event=StageEvent.BACK_TO_QUEUE)
    call_log_add(call=call, call_sid=call.call_sid, event=CallEvent.ROUTING, message=reason)
