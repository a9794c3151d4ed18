"""Agent presence from the console: the status an agent chooses, and heartbeats (decision 10).

The platform owns the busy states (ringing, in_call, wrap_up); an agent chooses available, unavailable or
offline. An agent whose heartbeats stop is offline whatever the stored status says: routing reads
`last_heartbeat_at`, no timer is needed. Only heartbeats count as the console being alive, never a status
change (voiceconfig.calls.presence). An agent who becomes available is offered the longest-waiting queued call at
once, through routing's own offer, after the status has been committed.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest

from voiceconfig import calls as call_services
from voiceconfig.models import AgentStatus, VoiceAgent

from .. import routing
from ..gateway import GatewayError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PresenceOutcome:
    agent: VoiceAgent
    offered_call_id: int | None = None


def heartbeat_expires_at(agent: VoiceAgent) -> datetime | None:
    if agent.last_heartbeat_at is None:
        return None
    return agent.last_heartbeat_at + timedelta(seconds=settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS)


def presence(agent: VoiceAgent) -> dict:
    """What the console shows about an agent."""
    return {
        "id": agent.pk,
        "identity": agent.identity,
        "status": agent.status,
        "online": call_services.is_online(agent),
        "status_changed_at": agent.status_changed_at,
        "last_heartbeat_at": agent.last_heartbeat_at,
        "heartbeat_expires_at": heartbeat_expires_at(agent),
        "wrap_up_until": agent.wrap_up_until,
    }


def agent_change_status(*, agent: VoiceAgent, status: str, request: HttpRequest | None = None) -> PresenceOutcome:
    """Set the status chosen for the agent; 409 while they have a live call. Available offers a queued call."""
    chosen = call_services.agent_choose_status(agent=agent, status=status)
    offered = _offer_queued_call(chosen, request) if status == AgentStatus.AVAILABLE else None
    return PresenceOutcome(agent=_fresh(chosen), offered_call_id=offered)


def agent_heartbeat(*, agent: VoiceAgent, request: HttpRequest | None = None) -> PresenceOutcome:
    """Record that the agent's console is alive. An available agent coming back online is offered a call."""
    came_back = call_services.agent_record_heartbeat(agent=agent)
    offered = None
    if came_back and agent.status == AgentStatus.AVAILABLE:
        offered = _offer_queued_call(agent, request)
    return PresenceOutcome(agent=_fresh(agent), offered_call_id=offered)


def _offer_queued_call(agent: VoiceAgent, request: HttpRequest | None) -> int | None:
    try:
        call = routing.offer_queued_call(agent=agent, request=request)
    except GatewayError as exc:
        # The agent is available either way; routing undid its reservation and the caller keeps waiting,
        # to be offered again on the queue's next retry.
        logger.warning("offering a queued call to agent %s failed: %s", agent.pk, exc)
        return None
    return getattr(call, "pk", None)


def _fresh(agent: VoiceAgent) -> VoiceAgent:
    return VoiceAgent.objects.get(pk=agent.pk)
