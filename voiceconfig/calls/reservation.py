"""Reserving an agent for a waiting caller, and releasing them (decision 6).

Locks: a call row first, then an agent row, or an agent taken with SKIP LOCKED, which never waits; so two
requests can never wait on each other in a cycle. The one-active-call-per-agent constraint backs it in the
database. Nothing here talks to Twilio: voicetwilio.routing rings the agent once these transactions commit.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from ..models import AgentStatus, Call, CallEvent, Department, PhoneLine, RingStrategy, VoiceAgent
from .availability import anyone_available, available_agents
from .departments import department_id_of, effective_department, may_take, pool_for
from .log import call_log_add
from .queue import waiting_calls
from .stats_facts import agent_note_missed_ring
from .strategies import History, rank


@dataclass
class Match:
    call: Call
    agent: VoiceAgent


def agent_reserve(*, call: Call, agent: VoiceAgent, now: datetime) -> bool:
    """Give the locked call to the locked agent (marked ringing, no leg yet). False if the constraint refuses."""
    try:
        with transaction.atomic():
            Call.objects.filter(pk=call.pk).update(agent=agent, agent_call_sid="", updated_at=now)
    except IntegrityError:  # the one-call-per-agent constraint: they were given a call meanwhile
        return False
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING, status_changed_at=now)
    call.agent, call.agent_call_sid = agent, ""
    agent.status, agent.status_changed_at = AgentStatus.RINGING, now
    return True


def _assign(*, call: Call, agent: VoiceAgent, now: datetime) -> bool:
    if not agent_reserve(call=call, agent=agent, now=now):
        return False
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        message=f"Ringing agent {agent}.",
        data={"agent": agent.pk, "identity": agent.identity},
    )
    return True


def call_match_agent(*, line: PhoneLine | None, exclude_agent_ids=(), call: Call | None = None) -> Match | None:
    """Pair an agent who answers `line` with the longest-waiting caller that agent may answer.

    The agent is taken first (SKIP LOCKED: concurrent requests each get a different one), then the oldest
    waiting call the agent may answer (SKIP LOCKED again: a call being matched elsewhere is passed over).
    Neither lock ever waits, so this cannot deadlock with status callbacks, which lock call then agent.

    When `call` waits in a department (issue 16), the department routes instead: its longest-waiting caller is
    taken (SKIP LOCKED), then the first member its strategy ranks that can be locked (SKIP LOCKED).
    """
    now = timezone.now()
    # On a busy line most new callers find nobody free: say so without a transaction or the locking query.
    if not anyone_available(now=now, exclude_agent_ids=exclude_agent_ids):
        return None
    department_id = department_id_of(call) if call is not None else None
    if department_id is not None:
        return _match_in_department(department_id=department_id, exclude_agent_ids=exclude_agent_ids, now=now)
    return _match_agent(line=line, exclude_agent_ids=exclude_agent_ids, now=now)


@transaction.atomic
def _match_in_department(*, department_id: int, exclude_agent_ids, now) -> Match | None:
    call = (
        waiting_calls()
        .annotate(waits_in=effective_department())
        .filter(waits_in=department_id)
        .select_related("phone_line__config", "phone_line__default_department", "department")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if call is None:
        return None
    # The department's row came with the call (no statement of its own): the call's, else its line's.
    department = call.department if call.department_id else call.phone_line.default_department
    pool = pool_for(department=department, call=call, now=now, exclude_agent_ids=exclude_agent_ids)
    ranked = rank(department.strategy, pool.candidates, History(last_agent_position=pool.last_agent_position))
    agent = _lock_first_free(ranked, now=now)
    if agent is None or not _assign(call=call, agent=agent, now=now):
        return None
    if department.strategy == RingStrategy.ROUND_ROBIN:
        Department.objects.filter(pk=department.pk).update(last_agent=agent)
    return Match(call=call, agent=agent)


def _lock_first_free(ranked: list[int], *, now) -> VoiceAgent | None:
    """The best-ranked agent still free whom no other request is taking (one query, whatever the count)."""
    if not ranked:
        return None
    order = Case(*(When(pk=agent_id, then=Value(i)) for i, agent_id in enumerate(ranked)), output_field=IntegerField())
    return (
        available_agents(line=None, now=now)
        .filter(pk__in=ranked)
        .order_by(order)
        .select_for_update(skip_locked=True)
        .first()
    )


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
    """Give this agent (if they can take a call now) the longest-waiting call they may answer."""
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
    if call is None:
        return None
    # Levels and overflow open with the wait: a caller whose time has not come for this agent waits for the next
    # round of hold music, which routes them again.
    if department_id_of(call) is not None and not may_take(agent_id=agent.pk, call=call, now=now):
        return None
    if not _assign(call=call, agent=agent, now=now):
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
        agent_note_missed_ring(agent_id=agent.pk, call=locked, now=now)
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
