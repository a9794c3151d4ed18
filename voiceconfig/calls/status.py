"""The caller's status: a forward-only state machine fed by Twilio's status callbacks (decision 5).

Twilio delivers callbacks late, out of order and twice. The final state depends only on the set of events
received, not on their order or count:
- a call's status only moves forward (STATUS_RANK), terminal statuses stick, and an event older than the highest
  SequenceNumber applied never moves it;
- facts such as "the call ended at T" keep the earliest time reported;
- every distinct event is one CallLog row (log.py).

A database error is never swallowed here: it propagates, so the webhook can tell Twilio to try again.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from ..models import TERMINAL_CALL_STATUSES, AgentStatus, Call, CallEvent, CallStatus, VoiceAgent
from . import sql
from .log import call_log_add, call_log_unknown
from .sql import STATE_FIELDS
from .stage import StageEvent, next_stage
from .stats_facts import settle_stats_facts
from .timing import recompute_durations
from .wrapup import agent_start_wrap_up

# Forward-only order of Twilio's call statuses; every terminal status ranks last.
STATUS_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    **{status: 4 for status in TERMINAL_CALL_STATUSES},
}
# Leg statuses that mean the leg was never answered.
UNANSWERED = frozenset({CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED})


def is_terminal(status: str) -> bool:
    return status in TERMINAL_CALL_STATUSES


def moves_forward(current: str, status: str) -> bool:
    """Whether `status` is a step forward from `current` (decision 5); an unknown status never is."""
    return status in STATUS_RANK and STATUS_RANK[status] > STATUS_RANK.get(current, 0)


def statuses_before(status: str) -> list[str]:
    """The statuses a call may move on from to reach `status`."""
    return [before for before, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]


@dataclass
class StatusResult:
    """What the caller's status callback changed, and what the caller of this service must do at Twilio."""

    call: Call | None
    changed: bool = False
    ended: bool = False
    # Agent legs still ringing for a call that has ended: cancel them (the caller is gone).
    legs_to_cancel: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def call_apply_status(
    *,
    call_sid: str,
    status: str,
    sequence_number: int | None = None,
    timestamp: datetime | None = None,
    data: dict | None = None,
) -> StatusResult:
    """Apply one status callback of a caller's leg (decision 5). Duplicates and stale events change nothing.

    On PostgreSQL one statement does it all (sql.apply_status_event, one round trip, issue 14); the cases it
    leaves alone (an earlier end time to correct) and SQLite take the ORM path, in a transaction.
    """
    seq_part = "" if sequence_number is None else f":{sequence_number}"
    dedupe_key = f"status:{status}{seq_part}"
    if status in STATUS_RANK and sql.is_available():
        outcome = sql.apply_status_event(
            call_sid=call_sid,
            status=status,
            before=statuses_before(status),
            sequence_number=sequence_number,
            moment=timestamp,
            now=timezone.now(),
            dedupe_key=dedupe_key,
            data=data,
        )
        if outcome.call is None:
            return StatusResult(call=None)
        if outcome.action == sql.MOVED:
            result = StatusResult(call=outcome.call, changed=True, ended=is_terminal(status))
            if outcome.abandoned:
                result.notes.append(sql.HUNG_UP_WAITING)
            if outcome.wraps_up:
                result.notes.append(sql.WRAPS_UP)
            if outcome.released_agent is not None:
                result.notes.append(f"Agent {outcome.released_agent}{sql.RELEASED}")
                if outcome.released_leg:
                    result.legs_to_cancel.append(outcome.released_leg)
            return result
        if outcome.action == sql.IGNORED:
            return StatusResult(call=outcome.call, notes=[f"Ignored: the call is already {outcome.call.status}."])
    return _apply_status_orm(
        call_sid=call_sid, status=status, sequence_number=sequence_number, timestamp=timestamp, data=data
    )


@transaction.atomic
def _apply_status_orm(
    *, call_sid: str, status: str, sequence_number: int | None, timestamp: datetime | None, data: dict | None
) -> StatusResult:
    """The ORM path of call_apply_status: lock the call, decide in Python, log, save."""
    seq_part = "" if sequence_number is None else f":{sequence_number}"
    dedupe_key = f"status:{status}{seq_part}"
    call = _lock_for_status(call_sid)
    if call is None:
        call_log_unknown(
            call_sid=call_sid,
            dedupe_key=dedupe_key,
            call_status=status,
            data=data,
            sequence_number=sequence_number,
            message=sql.UNKNOWN_CALL,
        )
        return StatusResult(call=None)
    result = StatusResult(call=call)
    fields: set[str] = set()
    if status in STATUS_RANK:
        fields = _advance_status(
            call=call, status=status, sequence_number=sequence_number, moment=timestamp, result=result
        )
    # Logged after deciding, so the row says what the event did; a duplicate inserts nothing.
    call_log_add(
        call=call,
        call_sid=call_sid,
        event=CallEvent.STATUS,
        dedupe_key=dedupe_key,
        call_status=status,
        data=data,
        sequence_number=sequence_number,
        message=" ".join(result.notes),
    )
    if fields:
        call.save(update_fields=[*fields, "updated_at"])
    return result


def _lock_for_status(call_sid: str) -> Call | None:
    """The call's row, locked, with only the columns the state machine uses (STATE_FIELDS).

    The hottest statement of the hottest webhook, so it is lean: no join of the line and its 40-column config
    (the one value of the config it needs, the wrap-up time, is read only when an agent's call ends), and written
    as SQL because the ORM spent longer building `Call.objects.select_for_update().only(*STATE_FIELDS).get(...)`
    than PostgreSQL spends running it (0.2 ms of CPU per callback; issue 8). Same converters (raw()).
    """
    sql = _lock_for_status_sql(connection.vendor, connection.features.has_select_for_update)
    return next(iter(Call.objects.raw(sql, [call_sid])), None)


@functools.cache
def _lock_for_status_sql(vendor: str, for_update: bool) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Call._meta.get_field(name).column) for name in ("id", *STATE_FIELDS))
    where = f"{quote(Call._meta.get_field('call_sid').column)} = %s"
    return f"SELECT {columns} FROM {quote(Call._meta.db_table)} WHERE {where}{' FOR UPDATE' if for_update else ''}"


def call_note_status(*, call: Call, status: str, source: str) -> StatusResult:
    """The caller's CallStatus as one of our other webhooks reported it (`source`: gather, queue-wait, ...).

    Twilio sends `ringing` on the first voice request and `in-progress` on every request once it has answered our
    number with our TwiML, while a number's status callback usually reports only the end. These requests carry no
    SequenceNumber, so they only ever move the call forward, through the same order as the status callback.
    Cheap, as they are hot paths: nothing at all when the call is already there (every request after the first),
    else one UPDATE whose WHERE keeps it forward-only against a concurrent status callback. That step is not a
    CallLog row of its own: the row the webhook writes anyway carries the status. A terminal status (the caller
    hung up during a <Record> or <Dial>, whose action Twilio still requests) ends the call exactly as a status
    callback does, and is one CallLog row however many webhooks repeat it.
    """
    if not is_terminal(status):
        if not moves_forward(call.status, status):
            return StatusResult(call=call)
        moved = Call.objects.filter(pk=call.pk, status__in=statuses_before(status)).update(
            status=status, updated_at=timezone.now()
        )
        if moved:
            call.status = status
        return StatusResult(call=call, changed=bool(moved))
    result = call_apply_status(call_sid=call.call_sid, status=status, data={"CallStatus": status, "source": source})
    if result.changed:
        call.refresh_from_db(fields=["status", "stage", "agent", "agent_call_sid", "ended_at"])
    return result


def _advance_status(
    *, call: Call, status: str, sequence_number: int | None, moment: datetime | None, result: StatusResult
) -> set[str]:
    fields: set[str] = set()
    stale = (
        sequence_number is not None
        and call.last_sequence_number is not None
        and sequence_number < call.last_sequence_number
    )
    if sequence_number is not None and (call.last_sequence_number or -1) < sequence_number:
        call.last_sequence_number = sequence_number
        fields.add("last_sequence_number")
    if stale or not moves_forward(call.status, status):
        result.notes.append(f"Ignored: the call is already {call.status}.")
        if is_terminal(status) and is_terminal(call.status) and moment and call.ended_at and moment < call.ended_at:
            # The end is a fact: the earliest time reported. A webhook that told us first (a <Record> or <Dial>
            # action after the hang-up) carries no time, so it ended the call at our clock, a moment late.
            call.ended_at = moment
            fields |= {"ended_at", "wait_seconds", "talk_seconds"}
            recompute_durations(call)
        return fields
    call.status = status
    fields.add("status")
    result.changed = True
    if is_terminal(status):
        call.ended_at = moment or timezone.now()
        result.ended = True
        fields |= {"ended_at", "wait_seconds", "talk_seconds"} | _finish(call=call, result=result)
        recompute_durations(call)
    return fields


def _finish(*, call: Call, result: StatusResult) -> set[str]:
    """The caller's call ended: settle its agent and its stage. Returns the call fields changed."""
    fields: set[str] = set()
    now = timezone.now()
    # Still waiting for an agent: never answered, or requeued after a transfer nobody answered.
    abandoned = next_stage(call.stage, StageEvent.HANG_UP)
    if abandoned:
        call.stage = abandoned
        fields.add("stage")
        result.notes.append(sql.HUNG_UP_WAITING)
    if call.agent_id is None:
        return fields | settle_stats_facts(call)
    if call.answered_at is not None and not abandoned:
        # Talked: the agent wraps up for the config's time, then counts as available again.
        wrap_up = agent_start_wrap_up(agent_id=call.agent_id, call=call, now=now)
        fields |= settle_stats_facts(call, wrap_up_seconds=wrap_up)
        result.notes.append(sql.WRAPS_UP)
        return fields
    # Still ringing when the caller hung up: nothing to wrap up, the agent is free at once.
    VoiceAgent.objects.filter(pk=call.agent_id, status=AgentStatus.RINGING).update(
        status=AgentStatus.AVAILABLE, status_changed_at=now
    )
    if call.agent_call_sid:
        result.legs_to_cancel.append(call.agent_call_sid)
    result.notes.append(f"Agent {call.agent_id}{sql.RELEASED}")
    call.agent, call.agent_call_sid = None, ""
    fields |= {"agent", "agent_call_sid"}
    return fields | settle_stats_facts(call)
