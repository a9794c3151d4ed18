"""Queued callbacks (issue 19): a waiting caller asks to be called back and keeps their place.

offered -> declined                       (the caller kept waiting on the line)
offered -> waiting                        (pressed 1: their call ends, the Callback keeps `queued_at`)
waiting -> ringing_agent                  (their turn: an agent is reserved and rung first)
ringing_agent -> waiting                  (the agent did not answer: no attempt counted, the next agent is tried)
ringing_agent -> dialing                  (the agent answered: the customer is dialled, one attempt)
dialing -> completed                      (the customer answered)
dialing -> waiting | failed               (no answer: again after the retry delay, or failed after the last attempt)

Every move is one conditional UPDATE or a row lock, so a callback delivered twice moves once. What drives due
callbacks (`manage.py run_due_callbacks`, on any number of hosts at once) claims them with SKIP LOCKED, and the
`one_callback_per_agent` constraint backs "never two calls for one agent" in the database.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ..models import (
    AgentStatus,
    Call,
    Callback,
    CallbackState,
    CallDirection,
    CallEvent,
    CallStage,
    CallStatus,
    Department,
    RingStrategy,
    VoiceAgent,
)
from .availability import available_agents
from .departments import department_id_of, effective_department, pool_for
from .log import call_log_add
from .queue import call_left_queue, is_waiting, waiting_calls
from .reservation import lock_first_free
from .ringall import has_live_offers
from .stage import StageEvent
from .strategies import History, rank

# --- the offer -------------------------------------------------------------------------------------------------


def callback_offer(*, call: Call, now: datetime | None = None) -> bool:
    """Offer "press 1" once per call, to a caller waiting at least the config's time. True when offered now."""
    config = call.phone_line.config if call.phone_line_id else None
    if config is None or not config.callback_offer_after_seconds or not is_waiting(call):
        return False
    now = now or timezone.now()
    waited_since = call.requeued_at or call.queued_at
    if waited_since is None or (now - waited_since).total_seconds() < config.callback_offer_after_seconds:
        return False
    if not call.from_number.startswith("+"):
        return False  # a withheld or SIP caller cannot be called back
    try:
        with transaction.atomic():
            Callback.objects.create(
                call=call,
                phone_line=call.phone_line,
                department_id=department_id_of(call),
                customer_number=call.from_number[:16],
                state=CallbackState.OFFERED,
                queued_at=call.queued_at or now,
                max_attempts=config.callback_max_attempts,
                next_attempt_at=now,
            )
    except IntegrityError:
        return False  # offered before (the one-to-one on call)
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        dedupe_key="callback-offered",
        message="Offered a callback (press 1).",
    )
    return True


@transaction.atomic
def callback_accept(*, call_sid: str, now: datetime | None = None) -> Callback | None:
    """The caller pressed 1: they leave the line, the Callback keeps their place. None if they cannot any more
    (an agent is ringing for them, or the call ended)."""
    now = now or timezone.now()
    call = Call.objects.select_for_update().filter(call_sid=call_sid).first()
    if call is None or not is_waiting(call) or has_live_offers(call):  # has_live_offers: a ring-all is ringing
        return None
    updated = Callback.objects.filter(call=call, state=CallbackState.OFFERED).update(
        state=CallbackState.WAITING, next_attempt_at=now, updated_at=now
    )
    if not updated:
        return None
    call_left_queue(
        call=call,
        event=StageEvent.MESSAGE,
        now=now,
        dedupe_key="callback-accepted",
        message="The caller asked to be called back; they keep their place in the queue.",
    )
    return Callback.objects.select_related("phone_line__config").get(call=call)


def callback_decline(*, call: Call) -> None:
    """The caller did not press 1: they go on waiting on the line (never offered again)."""
    Callback.objects.filter(call=call, state=CallbackState.OFFERED).update(
        state=CallbackState.DECLINED, updated_at=timezone.now()
    )


# --- claiming a due callback --------------------------------------------------------------------------------------


@dataclass
class CallbackClaim:
    callback: Callback
    agent: VoiceAgent


def due_callbacks(*, now: datetime) -> QuerySet[Callback]:
    """Waiting callbacks whose retry time has come and whose turn it is, the longest-waiting first.

    Their turn: nobody still waiting in the same queue has waited longer (a callback keeps its place, it does not
    jump ahead). The same queue is the callback's department (the department a caller waits in, see
    departments.effective_department), or, for a callback without one, its line's callers without a department:
    a caller of another department or line is answered by other agents and never holds a callback back.
    """
    ahead = (
        waiting_calls().annotate(waits_in=effective_department()).filter(queued_at__lt=OuterRef("queued_at")).order_by()
    )
    ahead_in_department = ahead.filter(waits_in=OuterRef("department_id"))
    ahead_on_line = ahead.filter(waits_in__isnull=True, phone_line_id=OuterRef("phone_line_id"))
    due = (
        Callback.objects.filter(state=CallbackState.WAITING, next_attempt_at__lte=now)
        .annotate(ahead_in_department=Exists(ahead_in_department), ahead_on_line=Exists(ahead_on_line))
        .exclude(Q(department__isnull=False, ahead_in_department=True))
        .exclude(Q(department__isnull=True, ahead_on_line=True))
    )
    return due.order_by("queued_at", "id")


@transaction.atomic
def callback_claim_due(*, now: datetime | None = None, exclude: Collection[int] = ()) -> CallbackClaim | None:
    """Reserve a free agent for the longest-waiting due callback (both with SKIP LOCKED: never waits, never twice).

    Commits the agent as ringing and the callback as ringing_agent; the caller rings the agent through Twilio.
    `exclude`: callbacks not to claim (those Twilio already refused in this run).
    """
    now = now or timezone.now()
    due = due_callbacks(now=now).exclude(pk__in=exclude).select_related("phone_line", "department", "call")
    for callback in due.select_for_update(skip_locked=True, of=("self",))[:5]:
        agent = _free_agent_for(callback, now=now)
        if agent is None:
            continue
        attempt = callback.attempts + 1
        callback.state, callback.agent = CallbackState.RINGING_AGENT, agent
        callback.conference_name = f"callback-{callback.pk}-{attempt}"
        callback.agent_call_sid = callback.customer_call_sid = ""
        callback.save(
            update_fields=["state", "agent", "conference_name", "agent_call_sid", "customer_call_sid", "updated_at"]
        )
        VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING, status_changed_at=now)
        _log(callback, f"Attempt {attempt}: ringing agent {agent} first.")
        return CallbackClaim(callback=callback, agent=agent)
    return None


def _free_agent_for(callback: Callback, *, now: datetime) -> VoiceAgent | None:
    """Lock (SKIP LOCKED) the agent to ring: the best free member of the callback's department by its strategy,
    levels and overflow (measured from the caller's original wait), else the longest idle agent of its line."""
    department = callback.department
    if department is None:
        return available_agents(line=callback.phone_line, now=now).select_for_update(skip_locked=True).first()
    pool = pool_for(department=department, call=callback.call, now=now)
    history = History(last_agent_position=pool.last_agent_position)
    agent = lock_first_free(rank(department.strategy, pool.candidates, history), now=now)
    if agent is not None and department.strategy == RingStrategy.ROUND_ROBIN:
        Department.objects.filter(pk=department.pk).update(last_agent=agent)
    return agent


def callback_record_agent_leg(*, callback: Callback, leg_sid: str) -> None:
    Callback.objects.filter(pk=callback.pk, state=CallbackState.RINGING_AGENT).update(agent_call_sid=leg_sid)
    callback.agent_call_sid = leg_sid


@transaction.atomic
def callback_release_agent(*, callback_id: int, reason: str) -> bool:
    """The agent was not reached (Twilio refused, rang out): they are free, the callback waits for the next one.

    The agent goes to the back of the longest-idle line, so the next try rings someone else first.
    """
    now = timezone.now()
    callback = Callback.objects.select_for_update().filter(pk=callback_id, state=CallbackState.RINGING_AGENT).first()
    if callback is None:
        return False
    agent_id = callback.agent_id
    Callback.objects.filter(pk=callback.pk).update(
        state=CallbackState.WAITING, agent=None, agent_call_sid="", last_error=reason[:500], updated_at=now
    )
    VoiceAgent.objects.filter(pk=agent_id, status=AgentStatus.RINGING).update(
        status=AgentStatus.AVAILABLE, status_changed_at=now, last_call_ended_at=now
    )
    _log(callback, reason)
    return True


# --- the agent answered: dial the customer ----------------------------------------------------------------------


@transaction.atomic
def callback_agent_answered(*, callback_id: int, leg_sid: str) -> Callback | None:
    """The agent answered: one attempt starts. Returns the callback to dial the customer for (None: told before)."""
    now = timezone.now()
    callback = (
        Callback.objects.select_for_update(of=("self",))
        .select_related("phone_line__config", "agent")
        .filter(pk=callback_id, state=CallbackState.RINGING_AGENT)
        .first()
    )
    if callback is None:
        return None
    callback.state, callback.attempts, callback.agent_call_sid = CallbackState.DIALING, callback.attempts + 1, leg_sid
    callback.save(update_fields=["state", "attempts", "agent_call_sid", "updated_at"])
    VoiceAgent.objects.filter(pk=callback.agent_id).update(status=AgentStatus.IN_CALL, status_changed_at=now)
    _log(
        callback, f"Agent {callback.agent} answered: dialling {callback.customer_number} (attempt {callback.attempts})."
    )
    return callback


@transaction.atomic
def callback_record_dialled(*, callback: Callback, customer_leg_sid: str, conference_sid: str = "") -> Call | None:
    """Twilio is dialling the customer: the conversation's own outbound call row, with agent and line.

    None when this attempt ended while Twilio was dialling (the agent hung up meanwhile): the edge cancels the
    leg. The conditional UPDATE waits for, and re-checks after, a concurrent `callback_agent_left`, so one of the
    two always sees the customer's leg.
    """
    now = timezone.now()
    if not Callback.objects.filter(pk=callback.pk, state=CallbackState.DIALING).update(
        customer_call_sid=customer_leg_sid, updated_at=now
    ):
        return None
    line = callback.phone_line
    call = Call.objects.create(
        call_sid=customer_leg_sid,
        agent_call_sid=callback.agent_call_sid,
        from_number=line.phone_number if line else "",
        to_number=callback.customer_number,
        direction=CallDirection.OUTBOUND_API,
        status=CallStatus.QUEUED,
        stage=CallStage.CONNECTED,
        phone_line=line,
        agent_id=callback.agent_id,
        conference_name=callback.conference_name,
        conference_sid=conference_sid,
        started_at=now,
    )
    Callback.objects.filter(pk=callback.pk).update(outbound_call=call)
    callback.customer_call_sid, callback.outbound_call = customer_leg_sid, call
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        message=f"Callback of {callback.call.call_sid}: agent {callback.agent} calls {callback.customer_number}.",
        data={"callback": callback.pk},
    )
    return call


@transaction.atomic
def callback_customer_unanswered(*, callback_id: int, reason: str, now: datetime | None = None) -> Callback | None:
    """This attempt failed (no answer, busy, Twilio refused): again after the delay, or failed after the last.

    Returns the callback when it moved now (the agent's leg is then to be hung up), None when told before.
    """
    now = now or timezone.now()
    callback = (
        Callback.objects.select_for_update(of=("self",))
        .select_related("phone_line__config", "agent")
        .filter(pk=callback_id, state=CallbackState.DIALING)
        .first()
    )
    if callback is None:
        return None
    _attempt_not_reached(callback, reason=reason, now=now)
    return callback


@transaction.atomic
def callback_agent_left(*, callback_id: int, leg_sid: str, now: datetime | None = None) -> Callback | None:
    """The agent's leg ended while the customer's phone was still ringing: the attempt did not reach the customer
    (as a no-answer: again after the delay, or failed after the last). Returns the callback when it moved now, its
    `customer_call_sid` the leg to cancel ('' while Twilio is still dialling: `callback_record_dialled` then says
    so); None when the customer answered, or this leg is not the attempt's agent (a late event of an earlier one).
    """
    if not leg_sid:
        return None
    now = now or timezone.now()
    callback = (
        Callback.objects.select_for_update(of=("self",))
        .select_related("phone_line__config", "agent")
        .filter(pk=callback_id, state=CallbackState.DIALING, agent_call_sid=leg_sid)
        .first()
    )
    if callback is None:
        return None
    _attempt_not_reached(callback, reason="the agent hung up before the customer answered", now=now)
    return callback


def _attempt_not_reached(callback: Callback, *, reason: str, now: datetime) -> None:
    """Under the callback's row lock: this attempt is over without a conversation; the agent is free."""
    agent_id = callback.agent_id
    retry = callback.attempts < callback.max_attempts
    delay = callback.phone_line.config.callback_retry_seconds if callback.phone_line else 300
    callback.state = CallbackState.WAITING if retry else CallbackState.FAILED
    callback.next_attempt_at = now + timedelta(seconds=delay) if retry else callback.next_attempt_at
    callback.agent, callback.last_error = None, reason[:500]
    callback.save(update_fields=["state", "next_attempt_at", "agent", "last_error", "updated_at"])
    if callback.outbound_call_id:
        Call.objects.filter(pk=callback.outbound_call_id).update(agent=None, updated_at=now)
    VoiceAgent.objects.filter(pk=agent_id, status__in=[AgentStatus.IN_CALL, AgentStatus.RINGING]).update(
        status=AgentStatus.AVAILABLE, status_changed_at=now
    )
    then = f"trying again after {delay} s" if retry else "no attempts left: failed"
    _log(callback, f"Attempt {callback.attempts}: {reason}; {then}.")


def callback_customer_answered(*, callback_id: int) -> bool:
    """The customer answered: the callback is done, and the original missed call followed up."""
    now = timezone.now()
    moved = Callback.objects.filter(pk=callback_id, state=CallbackState.DIALING).update(
        state=CallbackState.COMPLETED, updated_at=now
    )
    if moved:
        callback = Callback.objects.select_related("call").get(pk=callback_id)
        Call.objects.filter(pk=callback.call_id, followed_up_at__isnull=True).update(followed_up_at=now)
        _log(callback, f"The customer answered attempt {callback.attempts}.")
    return bool(moved)


def _log(callback: Callback, message: str) -> None:
    """A line on the original call's timeline (where the caller asked to be called back)."""
    call_sid = Call.objects.filter(pk=callback.call_id).values_list("call_sid", flat=True).first() or ""
    call_log_add(
        call=Call(pk=callback.call_id),
        call_sid=call_sid,
        event=CallEvent.ROUTING,
        message=message,
        data={"callback": callback.pk},
    )
