"""Transfers are rows (Transfer): requested, then ringing, then connected and completed, or unanswered or failed.

voicetwilio.callcontrol drives a transfer in three steps, with no lock held while Twilio works:
1. `transfer_request` decides and commits: the call has not changed, the receiving agent (if any) can take a call
   now and is reserved exactly as routing reserves one (ringing, made the call's agent with no leg yet, so
   routing's participant callbacks drive their ringing and answering); a `requested` Transfer row is written.
2. callcontrol asks Twilio to move the legs.
3. `transfer_record_started` (Twilio agreed) or `transfer_record_failed` (it refused: everything is put back).
The new party's leg events then move the row on (`transfer_note_leg`), and a transfer nobody answered is decided
once (`transfer_decide_unanswered`). Permissions (`warm_transferrer_of`) and the console read these rows; the
CallLog `transfer` rows are the timeline's account of the same steps, never read back.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import (
    AgentStatus,
    Call,
    CallEvent,
    CallStatus,
    Transfer,
    TransferMode,
    TransferState,
    TransferTarget,
    VoiceAgent,
)
from ..services import StateConflict
from .availability import available_agents, is_online
from .control import actor, end_hold
from .log import call_log_note
from .reservation import agent_reserve
from .stage import StageEvent, next_stage
from .stats_facts import call_mark_transferred
from .wrapup import agent_start_wrap_up

_LIVE_STATES = (TransferState.REQUESTED, TransferState.RINGING)


@dataclass(frozen=True)
class TransferTicket:
    """A requested transfer and what its reservation changed, so a refusal can put every column back exactly."""

    transfer: Transfer
    target_status: str = ""
    target_status_changed_at: datetime | None = None
    call_updated_at: datetime | None = None


def transfers_of(call: Call) -> QuerySet[Transfer]:
    """The call's transfers that Twilio accepted, latest first."""
    return Transfer.objects.filter(call=call).exclude(state=TransferState.FAILED).order_by("-step")


@transaction.atomic
def transfer_request(
    *, call: Call, target_type: str, target: str, to_agent: VoiceAgent | None, mode: str, user=None
) -> TransferTicket:
    """Decide and commit a transfer of `call` (as the caller read it): 409 when it changed or the agent is busy."""
    locked = Call.objects.select_for_update().get(pk=call.pk)
    if locked.agent_id != call.agent_id or locked.agent_call_sid != call.agent_call_sid or not locked.is_active:
        raise StateConflict(f"Call {call.call_sid} changed while it was being transferred; try again.")
    target_status, target_status_changed_at = "", None
    if to_agent is not None:
        available = available_agents(line=None).filter(pk=to_agent.pk).select_for_update(skip_locked=True).first()
        if available is None:
            to_agent.refresh_from_db(fields=["status", "last_heartbeat_at"])
            raise StateConflict(
                f"Agent {to_agent.identity} is not available to take a transfer "
                f"({to_agent.get_status_display().lower()}{'' if is_online(to_agent) else ', console offline'})."
            )
        target_status, target_status_changed_at = available.status, available.status_changed_at
        if not agent_reserve(call=locked, agent=available, now=timezone.now()):
            raise StateConflict(f"Agent {to_agent.identity} has just been given another call.")
    row = Transfer.objects.create(
        call=locked,
        step=Transfer.objects.filter(call=locked).count() + 1,
        from_agent_id=call.agent_id,
        target_type=target_type,
        target=target,
        to_agent=to_agent,
        mode=mode,
        requested_by=user if getattr(user, "pk", None) else None,
        conference_sid=locked.conference_sid,
        from_leg_sid=call.agent_call_sid,
    )
    return TransferTicket(
        transfer=row,
        target_status=target_status,
        target_status_changed_at=target_status_changed_at,
        call_updated_at=locked.updated_at,  # as read under the lock, before the reservation touched it
    )


@transaction.atomic
def transfer_record_failed(*, ticket: TransferTicket, reason: str) -> None:
    """Twilio refused: the call and both agents go back to exactly what they were; the row says why."""
    row = ticket.transfer
    if row.to_agent_id is not None:
        Call.objects.filter(pk=row.call_id, agent_id=row.to_agent_id).update(
            agent_id=row.from_agent_id, agent_call_sid=row.from_leg_sid, updated_at=ticket.call_updated_at
        )
        VoiceAgent.objects.filter(pk=row.to_agent_id, status=AgentStatus.RINGING).update(
            status=ticket.target_status, status_changed_at=ticket.target_status_changed_at
        )
    Transfer.objects.filter(pk=row.pk).update(
        state=TransferState.FAILED, failure=reason[:500], ended_at=timezone.now(), updated_at=timezone.now()
    )


@transaction.atomic
def transfer_record_started(*, ticket: TransferTicket, leg_sid: str, user=None) -> tuple[Call, Transfer]:
    """Twilio has added the new party (and, cold, taken the agent out): store who has the call now, settle the
    departing agent, log the chain."""
    row = ticket.transfer
    call = Call.objects.select_for_update(of=("self",)).select_related("phone_line__config").get(pk=row.call_id)
    now = timezone.now()
    cold = row.mode == TransferMode.COLD
    updates: dict = {"updated_at": now}
    if row.to_agent_id is not None:
        # Reserved above: attach the new leg unless routing's callbacks already did.
        if call.agent_id == row.to_agent_id and call.agent_call_sid in ("", leg_sid):
            updates["agent_call_sid"] = leg_sid
    elif cold:
        updates.update(agent=None, agent_call_sid="")
    if cold and call.on_hold:
        end_hold(call=call, now=now, user=user, why=" for the transfer")
    Call.objects.filter(pk=call.pk).update(**updates)
    call.refresh_from_db()
    Transfer.objects.filter(pk=row.pk, state=TransferState.REQUESTED).update(
        state=TransferState.RINGING, leg_sid=leg_sid, updated_at=now
    )
    row.refresh_from_db()
    from_agent = row.from_agent
    label = f"agent {row.to_agent.identity}" if row.to_agent_id else row.target
    call_log_note(
        call=call,
        event=CallEvent.TRANSFER,
        message=f"{'Cold' if cold else 'Warm'} transfer #{row.step}: agent {from_agent.identity} passed the call to "
        f"{label}" + ("" if cold else f"; {from_agent.identity} stays to introduce the caller"),
        data={**transfer_summary(row), **actor(user)},
    )
    if cold:
        agent_start_wrap_up(agent_id=from_agent.pk, call=call, now=now)
        call_log_note(
            call=call,
            event=CallEvent.AGENT,
            message=f"Agent {from_agent.identity} left the call (cold transfer #{row.step})",
            data={"agent": from_agent.pk, "leg": row.from_leg_sid, "left": True},
        )
    return call, row


def transfer_summary(row: Transfer) -> dict:
    """What the API answers about a transfer (and the timeline row records)."""
    return {
        "id": row.pk,
        "step": row.step,
        "type": row.target_type,
        "to": row.target,
        "mode": row.mode,
        "state": row.state,
        "fromAgent": row.from_agent_id,
        "toAgent": row.to_agent_id,
        "participantCallSid": row.leg_sid,
        "previousAgentCallSid": row.from_leg_sid,
    }


def transfer_note_leg(*, transfer_id: int, call: Call, leg_sid: str, status: str, moment: datetime | None) -> None:
    """An event of a transfer's new leg: answered moves it to connected, the leg's end after that to completed.
    Not answering is decided by transfer_decide_unanswered, once. Forward-only: a late event changes nothing."""
    rows = Transfer.objects.filter(pk=transfer_id, call=call)
    now = timezone.now()
    if status == CallStatus.IN_PROGRESS:
        if rows.filter(state__in=_LIVE_STATES).update(
            state=TransferState.CONNECTED, leg_sid=leg_sid, answered_at=moment or now, updated_at=now
        ):
            call_mark_transferred(call_id=call.pk)
    elif status == CallStatus.COMPLETED:
        rows.filter(state=TransferState.CONNECTED).update(
            state=TransferState.COMPLETED, ended_at=moment or now, updated_at=now
        )


def warm_transferrer_of(call: Call) -> int | None:
    """The agent who warm-transferred this call and is still in it: they may go on acting on the call."""
    last = transfers_of(call).only("mode", "from_agent_id").first()
    if last is None or last.mode != TransferMode.WARM or last.from_agent_id is None:
        return None
    agent_id = last.from_agent_id
    still_there = VoiceAgent.objects.filter(pk=agent_id, status=AgentStatus.IN_CALL).exists()
    elsewhere = Call.objects.active().filter(agent_id=agent_id).exclude(pk=call.pk).exists()
    return agent_id if still_there and not elsewhere else None


@transaction.atomic
def agent_leave_call(*, call_sid: str, leg_sid: str, agent_id: int) -> bool:
    """An agent hung up while the call goes on without them, after a warm transfer: they go to wrap-up.

    For the `completed` event of an agent's leg. It covers the two warm cases the caller's own status callback
    cannot: the agent left a call now held by another agent (their leg is no longer the current one), or left the
    caller with an outside number they brought in (the call then has no agent of ours). Any other leg changes
    nothing. Returns whether anything changed.
    """
    call = (
        Call.objects.select_for_update(of=("self",))
        .select_related("phone_line__config")
        .filter(call_sid=call_sid)
        .first()
    )
    if call is None or not call.is_active:
        return False
    current = call.agent_id == agent_id and call.agent_call_sid == leg_sid
    last = transfers_of(call).first()
    warm_from_this_agent = last is not None and last.mode == TransferMode.WARM and last.from_agent_id == agent_id
    if current and not (warm_from_this_agent and last.target_type == TransferTarget.PHONE_NUMBER):
        return False  # the ordinary end of the agent's part: the caller's status callback settles it
    agent = VoiceAgent.objects.select_for_update().filter(pk=agent_id, status=AgentStatus.IN_CALL).first()
    if agent is None:
        return False
    now = timezone.now()
    if current:
        Call.objects.filter(pk=call.pk).update(agent=None, agent_call_sid="", updated_at=now)
    elif Call.objects.active().filter(agent=agent).exists():
        return False
    agent_start_wrap_up(agent_id=agent.pk, call=call, now=now)
    call_log_note(
        call=call,
        event=CallEvent.AGENT,
        message=f"Agent {agent.identity} left the call after the warm transfer",
        data={"agent": agent.pk, "leg": leg_sid, "left": True},
    )
    return True


@dataclass(frozen=True)
class Unanswered:
    decision: str  # "", "back-to-agent" or "requeued"
    call: Call | None = None
    agent_leg: str = ""  # the warm-transferring agent's leg
    missed_agent_id: int | None = None  # the agent a cold transfer rang in vain


@transaction.atomic
def transfer_decide_unanswered(*, call_sid: str, leg_sid: str) -> Unanswered:
    """A transfer's new party did not answer: a warm transfer's call goes back to the agent who stayed; after a cold
    one the caller, alone in the conference, rejoins the queue with their original place. Decided once: the row
    moves to `unanswered` here, and a second copy of the news finds it there."""
    call = Call.objects.select_for_update(of=("self",)).select_related("phone_line").filter(call_sid=call_sid).first()
    if call is None or not call.is_active:
        return Unanswered("", call)
    row = Transfer.objects.filter(call=call, leg_sid=leg_sid).order_by("-step").first()
    if row is None or row.state not in _LIVE_STATES:
        return Unanswered("", call)
    now = timezone.now()
    Transfer.objects.filter(pk=row.pk).update(state=TransferState.UNANSWERED, ended_at=now, updated_at=now)
    step = row.step
    if row.mode == TransferMode.WARM:
        from_agent = VoiceAgent.objects.filter(pk=row.from_agent_id, status=AgentStatus.IN_CALL).first()
        if from_agent is None:
            decision, message = "", f"Transfer #{step} was not answered, and the transferring agent has left."
        elif call.agent_id in (None, from_agent.pk):
            Call.objects.filter(pk=call.pk).update(agent=from_agent, agent_call_sid=row.from_leg_sid, updated_at=now)
            decision, message = (
                "back-to-agent",
                f"Transfer #{step} was not answered: {from_agent.identity} keeps the call.",
            )
        else:
            decision, message = "", f"Transfer #{step} was not answered."
    elif call.agent_id is None and (queued := next_stage(call.stage, StageEvent.REQUEUE)):
        # Back in line with the original queued_at, so they are the next caller served; the wait counts anew.
        Call.objects.filter(pk=call.pk, agent__isnull=True).update(stage=queued, requeued_at=now, updated_at=now)
        call.stage, call.requeued_at = queued, now
        decision, message = "requeued", f"Transfer #{step} was not answered: the caller waits for the next agent."
    else:
        decision, message = "", f"Transfer #{step} was not answered."
    call_log_note(
        call=call,
        event=CallEvent.ROUTING,
        message=message,
        data={"transferStep": step, "participantCallSid": leg_sid, "outcome": decision or "none"},
        dedupe_key=f"transfer-unanswered:{leg_sid}",
    )
    return Unanswered(
        decision,
        call,
        agent_leg=row.from_leg_sid,
        missed_agent_id=row.to_agent_id if decision == "requeued" else None,
    )
