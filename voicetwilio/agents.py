"""Agent presence from the console: the status an agent chooses, and heartbeats (decision 10).

The platform owns the busy states (ringing, in_call, wrap_up); an agent chooses available, unavailable or
offline. An agent whose heartbeats stop is offline whatever the stored status says: routing reads
`last_heartbeat_at`, no timer is needed. An agent who becomes available is offered the longest-waiting
queued call at once, through routing's own offer, after our transaction has committed.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from voiceconfig.models import AgentStatus, VoiceAgent
from voiceconfig.services import StateConflict, agent_active_call, agent_set_status

from . import routing
from .gateway import GatewayError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PresenceOutcome:
    agent: VoiceAgent
    offered_call_id: int | None = None


def heartbeat_expires_at(agent: VoiceAgent) -> datetime | None:
    if agent.last_heartbeat_at is None:
        return None
    return agent.last_heartbeat_at + timedelta(seconds=settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS)


def is_online(agent: VoiceAgent, *, now: datetime | None = None) -> bool:
    expires = heartbeat_expires_at(agent)
    return expires is not None and expires > (now or timezone.now())


def presence(agent: VoiceAgent) -> dict:
    """What the console shows about an agent."""
    return {
        "id": agent.pk,
        "identity": agent.identity,
        "status": agent.status,
        "online": is_online(agent),
        "status_changed_at": agent.status_changed_at,
        "last_heartbeat_at": agent.last_heartbeat_at,
        "heartbeat_expires_at": heartbeat_expires_at(agent),
        "wrap_up_until": agent.wrap_up_until,
    }


def agent_change_status(*, agent: VoiceAgent, status: str, request: HttpRequest | None = None) -> PresenceOutcome:
    """Set the status the agent chose; 409 while they have a live call. Available offers a queued call."""
    with transaction.atomic():
        locked = VoiceAgent.objects.select_for_update().get(pk=agent.pk)
        live = agent_active_call(agent=locked)
        if live is not None:
            raise StateConflict(
                f"Agent {locked.identity} is on call {live.call_sid} ({locked.get_status_display()}); "
                "the status can be chosen again once the call has ended."
            )
        agent_set_status(agent=locked, status=status)
        if locked.wrap_up_until is not None:
            # Choosing a status ends any wrap-up early.
            VoiceAgent.objects.filter(pk=locked.pk).update(wrap_up_until=None)
            locked.wrap_up_until = None
    offered = _offer_queued_call(locked, request) if status == AgentStatus.AVAILABLE else None
    return PresenceOutcome(agent=_fresh(locked), offered_call_id=offered)


def agent_heartbeat(*, agent: VoiceAgent, request: HttpRequest | None = None) -> PresenceOutcome:
    """Record that the agent's console is alive. An available agent coming back online is offered a call."""
    now = timezone.now()
    was_online = is_online(agent, now=now)
    VoiceAgent.objects.filter(pk=agent.pk).update(last_heartbeat_at=now)
    agent.last_heartbeat_at = now
    offered = None
    if not was_online and agent.status == AgentStatus.AVAILABLE:
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
