"""Call state: the forward-only status machine, agent reservation and the call log.

Twilio delivers callbacks late, out of order and twice (decision 5). Every function here is written so that the
final state depends only on the set of events received, not on their order or count:
- a call's status only moves forward (rank below), terminal statuses stick, and an event older than the highest
  SequenceNumber applied never moves it;
- facts such as "the agent answered at T" are kept whatever order they arrive in;
- every distinct event is one CallLog row, deduplicated by the (call_sid, dedupe_key) unique constraint, so two
  copies arriving at the same moment still insert one row.

Locks: a call row first, then an agent row (or an agent taken with SKIP LOCKED, which never waits), so two
requests can never wait on each other in a cycle. Nothing here talks to Twilio; voicetwilio.routing does that
after these transactions commit.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import (
    TERMINAL_CALL_STATUSES,
    AgentStatus,
    Call,
    CallEvent,
    CallLog,
    CallStage,
    CallStatus,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)

# Forward-only order of Twilio's call statuses; every terminal status ranks last.
STATUS_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    **{status: 4 for status in TERMINAL_CALL_STATUSES},
}
# What the status machine (_advance_status, _finish, _recompute_durations) reads and writes on a call.
STATE_FIELDS = (
    "call_sid",
    "status",
    "stage",
    "phone_line",
    "agent",
    "agent_call_sid",
    "last_sequence_number",
    "queued_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
)
# Leg statuses that mean the leg was never answered.
UNANSWERED = {CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED}
LineMembers = PhoneLine.agents.through


def is_terminal(status: str) -> bool:
    return status in TERMINAL_CALL_STATUSES


def moves_forward(current: str, status: str) -> bool:
    """Whether `status` is a step forward from `current` (decision 5); an unknown status never is."""
    return status in STATUS_RANK and STATUS_RANK[status] > STATUS_RANK.get(current, 0)


def statuses_before(status: str) -> list[str]:
    """The statuses a call may move on from to reach `status`."""
    return [before for before, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]


# --- the call log ------------------------------------------------------------------------------------------


def call_log_add(
    *,
    call_sid: str,
    event: str,
    call: Call | None = None,
    dedupe_key: str | None = None,
    call_status: str = "",
    message: str = "",
    data: dict | None = None,
    sequence_number: int | None = None,
) -> None:
    """Append one event. With a dedupe_key, a second copy of the same event inserts nothing (ON CONFLICT)."""
    CallLog.objects.bulk_create(
        [
            CallLog(
                call=call,
                call_sid=call_sid[:34],
                event=event,
                dedupe_key=dedupe_key[:200] if dedupe_key else None,
                call_status=call_status[:20],
                message=message[:2000],
                data=data or {},
                sequence_number=sequence_number,
            )
        ],
        ignore_conflicts=dedupe_key is not None,
    )


def _log_unknown_call(*, call_sid: str, message: str, **fields) -> None:
    """A callback about a CallSid we have no call for: only logged (deduplicated like the event it stands for)."""
    call_log_add(call_sid=call_sid, event=CallEvent.UNKNOWN_CALL, message=message, **fields)


# --- creating calls and moving them through our flow ------------------------------------------------------


def call_start(
    *, call_sid: str, from_number: str, to_number: str, line: PhoneLine | None, status: str, stage: str = CallStage.NEW
) -> tuple[Call, bool]:
    """The call Twilio announced on the voice webhook; the same CallSid again returns the stored call.

    `stage=CallStage.QUEUED` creates it already waiting for an agent (queued_at set): the flow knows before the
    insert when a caller goes straight to the queue, and saves the enqueue UPDATE.
    """
    status = status if status in STATUS_RANK else CallStatus.RINGING
    now = timezone.now()
    # Insert first: a new call is the common case, so it costs one statement; Twilio asking twice costs two.
    try:
        call = _insert(
            Call,
            call_sid=call_sid,
            from_number=from_number[:200],
            to_number=to_number[:200],
            phone_line=line,
            status=status,
            stage=stage,
            started_at=now,
            queued_at=now if stage == CallStage.QUEUED else None,
            conference_name=conference_name_for(call_sid),
        )
        return call, True
    except IntegrityError:
        return Call.objects.select_related("phone_line__config").get(call_sid=call_sid), False


def _insert(model, **fields):
    """INSERT one row; a unique-constraint violation raises IntegrityError and leaves the connection usable.

    In autocommit (a webhook's request) the INSERT is its own transaction already: atomic() would only add the
    BEGIN and COMMIT round trips. Inside a transaction, a savepoint keeps the error from aborting it.
    """
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return model.objects.create(**fields)
    return model.objects.create(**fields)


def conference_name_for(call_sid: str) -> str:
    """Decision 4: each call has its own conference, named after the call."""
    return f"call-{call_sid}"


def call_set_stage(*, call: Call, stage: str, **fields) -> None:
    """Move a live call to another stage of our flow (and set any other columns given)."""
    fields["stage"] = stage
    Call.objects.filter(pk=call.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(call, name, value)


def call_count_ivr_prompt(*, call: Call) -> int:
    """One more IVR prompt for this call; returns how many it has had (atomic, concurrent-safe)."""
    Call.objects.filter(pk=call.pk).update(
        ivr_attempts=F("ivr_attempts") + 1, stage=CallStage.IVR, updated_at=timezone.now()
    )
    call.refresh_from_db(fields=["ivr_attempts", "stage"])
    return call.ivr_attempts


def call_enqueue(*, call: Call) -> None:
    """The caller starts waiting for an agent (keeps the first queued_at if the call was queued before)."""
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        stage=CallStage.QUEUED, queued_at=Coalesce("queued_at", Value(now)), updated_at=now
    )
    call.stage = CallStage.QUEUED
    call.queued_at = call.queued_at or now


@transaction.atomic
def call_leave_queue(*, call_sid: str, stage: str, max_wait_seconds: int, now: datetime | None = None) -> Call | None:
    """A caller who waited `max_wait_seconds` with nobody ringing leaves the queue for `stage`.

    Returns the call when it left now; None when it is not waiting any more (an agent took it, it ended) or
    has not waited long enough. Taking it out of the queue here, under the row lock, means no agent can be
    reserved for it while we send it elsewhere.
    """
    now = now or timezone.now()
    call = Call.objects.select_for_update().filter(call_sid=call_sid).first()
    if call is None or not _is_waiting(call):
        return None
    # A caller requeued after a transfer nobody answered gets the full wait again, from the requeue.
    waiting_since = call.requeued_at or call.queued_at
    if waiting_since and (now - waiting_since).total_seconds() < max_wait_seconds:
        return None
    call.stage = stage
    call.wait_seconds = _seconds(call.queued_at, now)
    call.save(update_fields=["stage", "wait_seconds", "updated_at"])
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        dedupe_key=f"left-queue:{stage}",
        message=f"Nobody answered within {max_wait_seconds} s: the caller goes to {stage}.",
    )
    return call


def call_back_to_queue(*, call: Call, reason: str) -> None:
    """Undo call_leave_queue when sending the caller elsewhere failed: they keep waiting."""
    Call.objects.filter(pk=call.pk, agent__isnull=True).exclude(status__in=TERMINAL_CALL_STATUSES).update(
        stage=CallStage.QUEUED, updated_at=timezone.now()
    )
    call_log_add(call=call, call_sid=call.call_sid, event=CallEvent.ROUTING, message=reason)


def _is_waiting(call: Call) -> bool:
    return call.stage == CallStage.QUEUED and call.agent_id is None and not is_terminal(call.status)


def _seconds(start: datetime | None, end: datetime | None) -> int:
    if not start or not end or end < start:
        return 0
    return int((end - start).total_seconds())


def _recompute_durations(call: Call) -> None:
    """Wait and talk times follow from the stored facts, so they come out the same in any callback order."""
    if call.queued_at:
        call.wait_seconds = _seconds(call.queued_at, call.answered_at or call.ended_at)
    if call.answered_at and call.ended_at:
        call.talk_seconds = _seconds(call.answered_at, call.ended_at)


# --- which agents may take which calls ---------------------------------------------------------------------


def heartbeat_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS)


def available_agents(*, line: PhoneLine | None, now: datetime | None = None) -> QuerySet[VoiceAgent]:
    """Agents who may be offered a call of `line` now, longest idle first.

    Available, or in wrap-up whose end has passed; heartbeat fresh; no live call; a member of the line, or
    anyone when the line lists no agents. No joins, so the result can be locked FOR UPDATE.
    """
    now = now or timezone.now()
    queryset = VoiceAgent.objects.filter(
        Q(status=AgentStatus.AVAILABLE) | Q(status=AgentStatus.WRAP_UP, wrap_up_until__lte=now),
        last_heartbeat_at__gte=heartbeat_cutoff(now),
    ).exclude(Exists(Call.objects.active().filter(agent=OuterRef("pk"))))
    if line is not None:
        queryset = queryset.filter(
            Exists(LineMembers.objects.filter(phoneline_id=line.pk, voiceagent_id=OuterRef("pk")))
            | ~Exists(LineMembers.objects.filter(phoneline_id=line.pk))
        )
    return queryset.order_by(F("last_call_ended_at").asc(nulls_first=True), "id")


def waiting_calls(*, agent: VoiceAgent | None = None) -> QuerySet[Call]:
    """Callers waiting for an agent, longest waiting first; with `agent`, only those of lines the agent answers."""
    queryset = Call.objects.filter(stage=CallStage.QUEUED, agent__isnull=True).exclude(
        status__in=TERMINAL_CALL_STATUSES
    )
    if agent is not None:
        queryset = queryset.filter(
            Exists(LineMembers.objects.filter(phoneline_id=OuterRef("phone_line_id"), voiceagent_id=agent.pk))
            | ~Exists(LineMembers.objects.filter(phoneline_id=OuterRef("phone_line_id")))
        )
    return queryset.order_by("queued_at", "id")


# --- reserving and releasing agents ----------------------------------------------------------------------


def _assign(*, call: Call, agent: VoiceAgent, now: datetime) -> bool:
    """Give the locked call to the locked agent. False if the one-call-per-agent constraint refuses."""
    try:
        with transaction.atomic():
            Call.objects.filter(pk=call.pk).update(agent=agent, agent_call_sid="", updated_at=now)
    except IntegrityError:
        return False
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING, status_changed_at=now)
    call.agent, call.agent_call_sid = agent, ""
    agent.status, agent.status_changed_at = AgentStatus.RINGING, now
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        message=f"Ringing agent {agent}.",
        data={"agent": agent.pk, "identity": agent.identity},
    )
    return True


@transaction.atomic
def call_reserve_agent(*, call: Call, exclude_agent_ids=()) -> VoiceAgent | None:
    """Reserve the longest-idle available agent of the call's line for this waiting call (decision 6)."""
    now = timezone.now()
    locked = Call.objects.select_for_update().filter(pk=call.pk).first()
    if locked is None or not _is_waiting(locked):
        return None
    agent = (
        available_agents(line=locked.phone_line, now=now)
        .exclude(pk__in=list(exclude_agent_ids))
        .select_for_update(skip_locked=True)
        .first()
    )
    if agent is None or not _assign(call=locked, agent=agent, now=now):
        return None
    call.agent, call.agent_call_sid = agent, ""
    return agent


@dataclass
class Match:
    call: Call
    agent: VoiceAgent


def call_match_agent(*, line: PhoneLine | None, exclude_agent_ids=()) -> Match | None:
    """Pair an agent who answers `line` with the longest-waiting caller that agent may answer.

    The agent is taken first (SKIP LOCKED: concurrent requests each get a different one), then the oldest
    waiting call the agent may answer (SKIP LOCKED again: a call being matched elsewhere is passed over).
    Neither lock ever waits, so this cannot deadlock with status callbacks, which lock call then agent.
    """
    now = timezone.now()
    # On a busy line most new callers find nobody free. A plain indexed read of "is anyone available at all"
    # (a superset of who may take this call) says so without a transaction and without building and running
    # the locking query and its subqueries; an agent freed a moment later offers themselves the queue anyway.
    if not anyone_available(now=now, exclude_agent_ids=exclude_agent_ids):
        return None
    return _match_agent(line=line, exclude_agent_ids=exclude_agent_ids, now=now)


def anyone_available(*, now: datetime, exclude_agent_ids=()) -> bool:
    """Whether any agent at all is available now (whatever line, whatever call): when not, nobody can be matched."""
    agents = VoiceAgent.objects.filter(
        Q(status=AgentStatus.AVAILABLE) | Q(status=AgentStatus.WRAP_UP, wrap_up_until__lte=now),
        last_heartbeat_at__gte=heartbeat_cutoff(now),
    )
    if exclude_agent_ids:
        agents = agents.exclude(pk__in=list(exclude_agent_ids))
    return agents.exists()


@transaction.atomic
def _match_agent(*, line: PhoneLine | None, exclude_agent_ids, now: datetime) -> Match | None:
    agent = (
        available_agents(line=line, now=now)
        .exclude(pk__in=list(exclude_agent_ids))
        .select_for_update(skip_locked=True)
        .first()
    )
    if agent is None:
        return None
    return _match_locked_agent(agent=agent, now=now)


@transaction.atomic
def call_offer_to_agent(*, agent: VoiceAgent) -> Call | None:
    """Give this agent (if available now) the longest-waiting call they may answer."""
    now = timezone.now()
    locked = available_agents(line=None, now=now).filter(pk=agent.pk).select_for_update(skip_locked=True).first()
    if locked is None:
        return None
    match = _match_locked_agent(agent=locked, now=now)
    if match is None:
        return None
    agent.status, agent.status_changed_at = locked.status, locked.status_changed_at
    return match.call


def _match_locked_agent(*, agent: VoiceAgent, now: datetime) -> Match | None:
    call = (
        waiting_calls(agent=agent)
        .select_related("phone_line__config")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if call is None or not _assign(call=call, agent=agent, now=now):
        return None
    return Match(call=call, agent=agent)


@transaction.atomic
def call_release_agent(*, call: Call, agent: VoiceAgent, reason: str = "", missed: bool = False) -> bool:
    """Take a ringing agent off a call: the agent is available again and the caller waits for the next one.

    `missed` (the agent let it ring out) also moves the agent to the back of the longest-idle line, so the
    next attempt rings someone else first. Returns False when the agent was no longer on this call.
    """
    now = timezone.now()
    locked = Call.objects.select_for_update().filter(pk=call.pk).first()
    if locked is None or locked.agent_id != agent.pk:
        return False
    Call.objects.filter(pk=locked.pk).update(agent=None, agent_call_sid="", updated_at=now)
    agent_updates: dict = {"status": AgentStatus.AVAILABLE, "status_changed_at": now}
    if missed:
        agent_updates["last_call_ended_at"] = now
    VoiceAgent.objects.filter(pk=agent.pk, status=AgentStatus.RINGING).update(**agent_updates)
    call.agent, call.agent_call_sid = None, ""
    call_log_add(
        call=locked,
        call_sid=locked.call_sid,
        event=CallEvent.ROUTING,
        message=reason or f"Agent {agent} released.",
        data={"agent": agent.pk, "released": True},
    )
    return True


def call_attach_agent_leg(*, call: Call, agent: VoiceAgent, leg_sid: str, conference_sid: str = "") -> None:
    """Store the agent's leg SIDs that Twilio returned, unless the agent has been released meanwhile."""
    updates: dict = {"agent_call_sid": leg_sid, "updated_at": timezone.now()}
    if conference_sid:
        updates["conference_sid"] = conference_sid
    if Call.objects.filter(pk=call.pk, agent=agent, agent_call_sid__in=["", leg_sid]).update(**updates):
        call.agent_call_sid = leg_sid
        call.conference_sid = conference_sid or call.conference_sid


# --- status callbacks of the caller's leg ----------------------------------------------------------------


@dataclass
class StatusResult:
    """What the caller's status callback changed, and what the caller of this service must do at Twilio."""

    call: Call | None
    changed: bool = False
    ended: bool = False
    # Agent legs still ringing for a call that has ended: cancel them (the caller is gone).
    legs_to_cancel: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@transaction.atomic
def call_apply_status(
    *,
    call_sid: str,
    status: str,
    sequence_number: int | None = None,
    timestamp: datetime | None = None,
    data: dict | None = None,
) -> StatusResult:
    """Apply one status callback of a caller's leg (decision 5). Duplicates and stale events change nothing."""
    seq_part = "" if sequence_number is None else f":{sequence_number}"
    dedupe_key = f"status:{status}{seq_part}"
    call = _lock_for_status(call_sid)
    if call is None:
        _log_unknown_call(
            call_sid=call_sid,
            dedupe_key=dedupe_key,
            call_status=status,
            data=data,
            sequence_number=sequence_number,
            message="Status callback for a call we never saw.",
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
    (that was a third of a status callback's cost; the one value of the config it needs, the wrap-up time, is
    read only when an agent's call ends: _start_wrap_up), and written as SQL because the ORM spent longer
    building `Call.objects.select_for_update().only(*STATE_FIELDS).get(call_sid=...)` than PostgreSQL spends
    running it (0.2 ms of CPU per callback; issue 8). The same query, with the same converters (raw()).
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
            _recompute_durations(call)
        return fields
    call.status = status
    fields.add("status")
    result.changed = True
    if is_terminal(status):
        call.ended_at = moment or timezone.now()
        result.ended = True
        fields |= {"ended_at", "wait_seconds", "talk_seconds"} | _finish(call=call, result=result)
        _recompute_durations(call)
    return fields


def _finish(*, call: Call, result: StatusResult) -> set[str]:
    """The caller's call ended: settle its agent and its stage. Returns the call fields changed."""
    fields: set[str] = set()
    now = timezone.now()
    # Still waiting for an agent: never answered, or requeued after a transfer nobody answered.
    waiting = call.stage in (CallStage.QUEUED, CallStage.NEW, CallStage.IVR)
    if waiting:
        call.stage = CallStage.ABANDONED
        fields.add("stage")
        result.notes.append("The caller hung up before reaching an agent.")
    if call.agent_id is None:
        return fields
    if call.answered_at is not None and not waiting:
        # Talked: the agent wraps up for the config's time, then counts as available again.
        _start_wrap_up(agent_id=call.agent_id, call=call, now=now)
        result.notes.append("The agent wraps up.")
    else:
        # Still ringing when the caller hung up: nothing to wrap up, the agent is free at once.
        VoiceAgent.objects.filter(pk=call.agent_id, status=AgentStatus.RINGING).update(
            status=AgentStatus.AVAILABLE, status_changed_at=now
        )
        if call.agent_call_sid:
            result.legs_to_cancel.append(call.agent_call_sid)
        result.notes.append(f"Agent {call.agent_id} released: the caller hung up before they answered.")
        call.agent, call.agent_call_sid = None, ""
        fields |= {"agent", "agent_call_sid"}
    return fields


def _wrap_up_seconds(call: Call) -> int:
    """The wrap-up time of the call's config; one small query unless the config was loaded with the call."""
    if not call.phone_line_id:
        return 0
    if Call.phone_line.is_cached(call) and PhoneLine.config.is_cached(call.phone_line):
        return call.phone_line.config.wrap_up_seconds
    seconds = VoiceConfig.objects.filter(phone_lines=call.phone_line_id).values_list("wrap_up_seconds", flat=True)
    return seconds.first() or 0


def _start_wrap_up(
    *, agent_id: int, call: Call, now: datetime, from_statuses=(AgentStatus.RINGING, AgentStatus.IN_CALL)
) -> None:
    """The agent's call ended: wrap-up for the config's time (an agent who went unavailable stays so)."""
    wrap_up_seconds = _wrap_up_seconds(call)
    wraps_up = Q(status__in=list(from_statuses))
    # One statement: the end time always, the wrap-up only for an agent still on the call.
    VoiceAgent.objects.filter(pk=agent_id).update(
        last_call_ended_at=now,
        status=Case(When(wraps_up, then=Value(AgentStatus.WRAP_UP)), default=F("status")),
        status_changed_at=Case(When(wraps_up, then=Value(now)), default=F("status_changed_at")),
        wrap_up_until=Case(
            When(wraps_up, then=Value(now + timedelta(seconds=wrap_up_seconds))), default=F("wrap_up_until")
        ),
    )


# --- call-progress events of the agent's (or a transferee's) leg -------------------------------------------


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
) -> LegResult:
    """Apply one call-progress event of a leg added to the call's conference (the agent's, or a transferee's).

    The leg is the call's current agent leg when it is `call.agent_call_sid`, or when that is not known yet
    (Twilio's first callbacks can beat the participant-create answer) and the leg's agent is the call's agent.
    Only the current leg moves the agent; any other leg (released, transferred away) is only logged.
    """
    leg_key = f"leg:{leg_sid}:"
    seq_part = "" if sequence_number is None else f":{sequence_number}"
    call = (
        Call.objects.select_for_update(of=("self",))
        .select_related("phone_line__config")
        .filter(call_sid=call_sid)
        .first()
    )
    if call is None:
        _log_unknown_call(
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
        _recompute_durations(call)
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
            if call.stage == CallStage.QUEUED:  # rung for a waiting caller (a new one, or one requeued)
                result.notes.append(f"Agent {call.agent_id} did not answer ({status}) and is released.")
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
    if call.stage != CallStage.CONNECTED:
        call.stage = CallStage.CONNECTED
        fields.add("stage")
    if moves_forward(call.status, CallStatus.IN_PROGRESS):
        # The caller talks to the agent in the conference, so Twilio has answered the caller's call, whatever
        # webhook has (or has not yet) told us: no call stays "ringing" once an agent is on it. Same save.
        call.status = CallStatus.IN_PROGRESS
        fields.add("status")
    if not is_terminal(call.status):
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
        _start_wrap_up(agent_id=agent_id, call=call, now=now, from_statuses=[AgentStatus.AVAILABLE])
    return fields


# --- conference and recording events ---------------------------------------------------------------------


@transaction.atomic
def call_apply_conference_event(
    *,
    call_sid: str,
    conference_sid: str,
    event: str,
    participant_sid: str = "",
    sequence_number: int | None = None,
    data: dict | None = None,
) -> Call | None:
    """Log a conference event; the first one tells us the conference SID (hold and transfer need it), the caller
    joining that Twilio has answered their call."""
    dedupe_key = f"conf:{conference_sid}:{event}:{participant_sid}:{'' if sequence_number is None else sequence_number}"
    call = Call.objects.filter(call_sid=call_sid).first() if call_sid else None
    if call is None:
        _log_unknown_call(
            call_sid=call_sid,
            dedupe_key=dedupe_key,
            data=data,
            sequence_number=sequence_number,
            message="Conference event for a call we never saw.",
        )
        return None
    call_log_add(
        call=call,
        call_sid=call_sid,
        event=CallEvent.CONFERENCE,
        dedupe_key=dedupe_key,
        message=event,
        data=data,
        sequence_number=sequence_number,
    )
    if conference_sid and not call.conference_sid:
        Call.objects.filter(pk=call.pk, conference_sid="").update(conference_sid=conference_sid)
        call.conference_sid = conference_sid
    if event == "participant-join" and participant_sid == call_sid:
        # The caller is in the conference, so Twilio has answered their call (these events carry no CallStatus).
        call_note_status(call=call, status=CallStatus.IN_PROGRESS, source="conference")
    return call


@transaction.atomic
def call_store_recording(
    *,
    call_sid: str,
    recording_sid: str,
    recording_url: str,
    duration: int | None,
    voicemail: bool,
    recording_status: str = "",
    data: dict | None = None,
) -> Call | None:
    """Keep a recording (a voicemail or the conversation) on the call; every copy of the news logs once."""
    dedupe_key = f"rec:{recording_sid or recording_url}:{recording_status or 'action'}"
    call = Call.objects.select_for_update().filter(call_sid=call_sid).first() if call_sid else None
    if call is None:
        _log_unknown_call(
            call_sid=call_sid,
            dedupe_key=dedupe_key,
            data=data,
            message="Recording for a call we never saw.",
        )
        return None
    has_audio = bool(recording_url) and (duration is None or duration > 0)
    call_log_add(
        call=call,
        call_sid=call_sid,
        event=CallEvent.VOICEMAIL if voicemail else CallEvent.RECORDING,
        dedupe_key=dedupe_key,
        call_status=recording_status,
        message=recording_url if has_audio else "Nothing was recorded.",
        data=data,
    )
    if has_audio and recording_status in ("", "completed"):
        call.recording_url = recording_url[:500]
        call.recording_sid = recording_sid[:34] or call.recording_sid
        call.recording_duration = duration if duration is not None else call.recording_duration
        call.voicemail = call.voicemail or voicemail
        call.save(update_fields=["recording_url", "recording_sid", "recording_duration", "voicemail", "updated_at"])
    return call
