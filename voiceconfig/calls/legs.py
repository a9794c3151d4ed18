"""Call-progress events of a leg we added to the call's conference: the agent's, or a transfer's new party.

The leg is the call's current agent leg when it is `call.agent_call_sid`, or when that is not known yet
(Twilio's first callbacks can beat the participant-create answer) and the leg's agent is the call's agent.
Only the current leg moves the agent; any other leg (released, transferred away) is only logged.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import AgentStatus, Call, CallEvent, CallStage, CallStatus, VoiceAgent
from .log import call_log_add, call_log_unknown
from .stage import StageEvent, next_stage
from .stats_facts import agent_note_missed_ring, settle_stats_facts
from .status import STATUS_RANK, UNANSWERED, is_terminal, moves_forward
from .timing import recompute_durations
from .transfers import transfer_note_leg
from .wrapup import agent_start_wrap_up


@dataclass
class LegResult:
    call: Call | None
    status: str = ""
    # The agent let it ring out (or was busy/failed): try the next agent, not this one.
    retry_excluding: int | None = None
    # The leg answered a call whose caller is gone: hang it up.
    hang_up_leg: str = ""
    # The agent answered a caller who waits on hold with the queue music (requeued): take them off hold.
    unhold_caller: bool = False
    # The call's agent has just answered a live call (an `always` line starts recording now).
    agent_answered: bool = False
    notes: list[str] = field(default_factory=list)


@transaction.atomic
def call_apply_leg_event(
    *,
    call_sid: str,
    leg_sid: str,
    agent_id: int | None,
    status: str,
    sequence_number: int | None = None,
    timestamp: datetime | None = None,
    data: dict | None = None,
    transfer_id: int | None = None,
) -> LegResult:
    """Apply one call-progress event of a leg added to the call's conference (`transfer_id`: a transfer's leg)."""
    leg_key = f"leg:{leg_sid}:"
    seq_part = "" if sequence_number is None else f":{sequence_number}"
    call = (
        Call.objects.select_for_update(of=("self",))
        .select_related("phone_line__config")
        .filter(call_sid=call_sid)
        .first()
    )
    if call is None:
        call_log_unknown(
            call_sid=call_sid,
            dedupe_key=f"{leg_key}{status}{seq_part}",
            call_status=status,
            data=data,
            sequence_number=sequence_number,
            message=f"Leg {leg_sid} reported on a call we never saw.",
        )
        return LegResult(call=None)
    result = LegResult(call=call, status=status)
    fields: set[str] = set()
    if status in STATUS_RANK:
        fields = _advance_leg(
            call=call, leg_sid=leg_sid, agent_id=agent_id, status=status, moment=timestamp, result=result
        )
        if transfer_id is not None:
            transfer_note_leg(transfer_id=transfer_id, call=call, leg_sid=leg_sid, status=status, moment=timestamp)
    # One row per distinct event of the leg, saying what it did; a duplicate inserts nothing.
    call_log_add(
        call=call,
        call_sid=call_sid,
        event=CallEvent.AGENT,
        dedupe_key=f"{leg_key}{status}{seq_part}",
        call_status=status,
        data={**(data or {}), "leg": leg_sid, "agent": agent_id},
        sequence_number=sequence_number,
        message=" ".join(result.notes),
    )
    if fields:
        recompute_durations(call)
        call.save(update_fields=[*fields, "wait_seconds", "talk_seconds", "updated_at"])
    return result


def _advance_leg(
    *, call: Call, leg_sid: str, agent_id: int | None, status: str, moment: datetime | None, result: LegResult
) -> set[str]:
    now = timezone.now()
    current = call.agent_call_sid == leg_sid or (
        not call.agent_call_sid and agent_id is not None and call.agent_id == agent_id
    )
    fields: set[str] = set()
    if current and not call.agent_call_sid:
        call.agent_call_sid = leg_sid
        fields.add("agent_call_sid")
    late_answer = agent_id is not None and call.agent_id is None and is_terminal(call.status)
    if status == CallStatus.IN_PROGRESS and (current or late_answer):
        return fields | _leg_answered(
            call=call, agent_id=agent_id, leg_sid=leg_sid, moment=moment or now, now=now, result=result
        )
    if status in UNANSWERED and current:
        # Rang out (the ring timeout), busy, failed or cancelled: free the agent.
        if call.agent_id is not None:
            VoiceAgent.objects.filter(pk=call.agent_id, status=AgentStatus.RINGING).update(
                status=AgentStatus.AVAILABLE, status_changed_at=now, last_call_ended_at=now
            )
            if call.stage == CallStage.QUEUED:  # rung for a waiting caller (new, or requeued)
                result.notes.append(f"Agent {call.agent_id} did not answer ({status}) and is released.")
                agent_note_missed_ring(agent_id=call.agent_id, call=call, now=moment or now)
                if not is_terminal(call.status):
                    result.retry_excluding = call.agent_id  # ring the next agent
            else:
                # A transfer's receiving agent: call control decides what the call does next, not routing.
                result.notes.append(f"Agent {call.agent_id} did not answer the transfer ({status}) and is released.")
        call.agent, call.agent_call_sid = None, ""
        fields |= {"agent", "agent_call_sid"}
    elif not current:
        result.notes.append("Not the call's current agent leg: logged only.")
    return fields


def _leg_answered(
    *, call: Call, agent_id: int | None, leg_sid: str, moment: datetime, now: datetime, result: LegResult
) -> set[str]:
    """The agent picked up. Kept as a fact even when it arrives after the hang-up it preceded."""
    fields: set[str] = set()
    requeued = call.stage == CallStage.QUEUED and call.requeued_at is not None
    if call.answered_at is None or moment < call.answered_at:
        call.answered_at = moment
        fields.add("answered_at")
    connected = next_stage(call.stage, StageEvent.ANSWER)
    if connected:
        call.stage = connected
        fields.add("stage")
    if moves_forward(call.status, CallStatus.IN_PROGRESS):
        # The caller talks to the agent in the conference, so Twilio has answered the caller's call, whatever
        # webhook has (or has not yet) told us: no call stays "ringing" once an agent is on it. Same save.
        call.status = CallStatus.IN_PROGRESS
        fields.add("status")
    if not is_terminal(call.status):
        result.agent_answered = True
        if call.agent_id:
            VoiceAgent.objects.filter(pk=call.agent_id, status=AgentStatus.RINGING).update(
                status=AgentStatus.IN_CALL, status_changed_at=now
            )
        if requeued:
            result.unhold_caller = True
            result.notes.append("The caller is taken off the queue music.")
        return fields
    # The caller was already gone (their hang-up was reported first). The agent did take the call, so it is
    # theirs and they wrap up, exactly as if the events had come in order; their leg is hung up.
    result.hang_up_leg = leg_sid
    if call.agent_id is None and agent_id is not None:
        call.agent_id = agent_id
        call.agent_call_sid = leg_sid
        fields |= {"agent", "agent_call_sid"}
        # Released when the hang-up came first; unless they have been given another call since.
        wrap_up = agent_start_wrap_up(agent_id=agent_id, call=call, now=now, from_statuses=[AgentStatus.AVAILABLE])
        # The answer came after the end that settled the facts: the call was answered, not abandoned.
        fields |= settle_stats_facts(call, wrap_up_seconds=wrap_up)
    return fields
