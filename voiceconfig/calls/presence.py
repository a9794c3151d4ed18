"""Agent presence: the status an agent (or staff) chooses, and the heartbeats of the agent's own console.

Presence comes from the agent (issue 11): only the heartbeats of the agent's own console make them look online.
Choosing a status is never a heartbeat, whoever chooses it: staff may set an agent available over REST or in
the admin, but an agent with no console open is still not routed to.
The platform owns the busy states (ringing, in_call, wrap_up); while the agent has a live call, no one can
choose a status for them (409).
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import AgentSession, Call, VoiceAgent
from ..services import StateConflict
from .availability import heartbeat_cutoff, is_online
from .stats_facts import agent_cut_wrap_up


def agent_active_call(*, agent: VoiceAgent, exclude_call_id: int | None = None) -> Call | None:
    """The agent's live call, if any (ignoring one call, for when that call itself is being changed)."""
    calls = Call.objects.active().filter(agent=agent)
    if exclude_call_id is not None:
        calls = calls.exclude(pk=exclude_call_id)
    return calls.first()


def agent_set_status(*, agent: VoiceAgent, status: str) -> VoiceAgent:
    """Store a chosen status; any wrap-up ends early. Not a heartbeat (the module docstring)."""
    now = timezone.now()
    updates: dict = {"status": status, "status_changed_at": now}
    if agent.wrap_up_until is not None:
        agent_cut_wrap_up(agent=agent, now=now)
        updates["wrap_up_until"] = None
    VoiceAgent.objects.filter(pk=agent.pk).update(**updates)
    for key, value in updates.items():
        setattr(agent, key, value)
    return agent


@transaction.atomic
def agent_choose_status(*, agent: VoiceAgent, status: str) -> VoiceAgent:
    """Set the status chosen for the agent; 409 while they have a live call."""
    locked = VoiceAgent.objects.select_for_update().get(pk=agent.pk)
    live = agent_active_call(agent=locked)
    if live is not None:
        raise StateConflict(
            f"Agent {locked.identity} is on call {live.call_sid} ({locked.get_status_display()}); "
            "the status can be chosen again once the call has ended."
        )
    return agent_set_status(agent=locked, status=status)


def agent_record_heartbeat(*, agent: VoiceAgent, now: datetime | None = None) -> bool:
    """The agent's console is alive. Returns whether the agent was offline until now (a comeback)."""
    now = now or timezone.now()
    was_online = is_online(agent, now=now)
    VoiceAgent.objects.filter(pk=agent.pk).update(last_heartbeat_at=now)
    agent_record_staffed(agent=agent, now=now, was_online=was_online)
    agent.last_heartbeat_at = now
    return not was_online


def agent_record_staffed(*, agent: VoiceAgent, now: datetime, was_online: bool) -> None:
    """Staffed time (occupancy's denominator, docs/statistics.md): a heartbeat while online extends the agent's open
    session to now; the first one after a gap longer than the heartbeat timeout opens a new session. One UPDATE
    per heartbeat; an INSERT when the agent comes (back) online."""
    open_session = AgentSession.objects.filter(agent=agent, ended_at__gte=heartbeat_cutoff(now))
    if was_online and open_session.update(ended_at=now):
        return
    AgentSession.objects.create(agent=agent, started_at=now, ended_at=now)
