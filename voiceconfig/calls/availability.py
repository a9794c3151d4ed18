"""The one rule for "agents who can take a call now" (routing, transfer targets, the overview and the API).

An agent can take a call when all of these hold:
- their own console sent a heartbeat within AGENT_HEARTBEAT_TIMEOUT_SECONDS (staff cannot fake it);
- they are available, or in wrap-up whose end has passed;
- they have no live call (the one-call-per-agent constraint says the same in the database);
- for a call of a line: they answer that line (a line that lists no agents is answered by everyone).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from ..models import AgentStatus, Call, PhoneLine, VoiceAgent

LineMembers = PhoneLine.agents.through


def heartbeat_cutoff(now: datetime | None = None) -> datetime:
    """Heartbeats older than this no longer count: the agent's console is gone."""
    return (now or timezone.now()) - timedelta(seconds=settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS)


def is_online(agent: VoiceAgent, *, now: datetime | None = None) -> bool:
    """Whether the agent's console is alive (its last heartbeat is fresh)."""
    return agent.last_heartbeat_at is not None and agent.last_heartbeat_at >= heartbeat_cutoff(now)


def _free_now(now: datetime) -> Q:
    return Q(status=AgentStatus.AVAILABLE) | Q(status=AgentStatus.WRAP_UP, wrap_up_until__lte=now)


def is_free(agent: VoiceAgent, *, now: datetime) -> bool:
    """The status half of the rule, for an agent already loaded (the overview shows every agent)."""
    if agent.status == AgentStatus.WRAP_UP:
        return agent.wrap_up_until is not None and agent.wrap_up_until <= now
    return agent.status == AgentStatus.AVAILABLE


def available_agents(*, line: PhoneLine | None, now: datetime | None = None) -> QuerySet[VoiceAgent]:
    """Agents who may be offered a call of `line` now (any line when None), longest idle first.

    No joins, so the result can be locked FOR UPDATE.
    """
    now = now or timezone.now()
    queryset = VoiceAgent.objects.filter(_free_now(now), last_heartbeat_at__gte=heartbeat_cutoff(now)).exclude(
        Exists(Call.objects.active().filter(agent=OuterRef("pk")))
    )
    if line is not None:
        queryset = queryset.filter(
            Exists(LineMembers.objects.filter(phoneline_id=line.pk, voiceagent_id=OuterRef("pk")))
            | ~Exists(LineMembers.objects.filter(phoneline_id=line.pk))
        )
    return queryset.order_by(F("last_call_ended_at").asc(nulls_first=True), "id")


def anyone_available(*, now: datetime, exclude_agent_ids=()) -> bool:
    """Whether any agent at all is free and online now: when not, nobody can be matched.

    A plain indexed read (a superset of available_agents: it skips the live-call and line subqueries), so a new
    caller on a busy line learns "nobody" without a transaction.
    """
    # The statement is prebuilt (sql.anyone_available): it runs on every incoming call and IVR choice (issue 14).
    from . import sql

    return sql.anyone_available(now=now, heartbeat_after=heartbeat_cutoff(now), exclude_agent_ids=exclude_agent_ids)


def anyone_available_by_orm(*, now: datetime, exclude_agent_ids=()) -> bool:
    """The ORM query sql.anyone_available replaces (its test compares the two)."""
    agents = VoiceAgent.objects.filter(_free_now(now), last_heartbeat_at__gte=heartbeat_cutoff(now))
    if exclude_agent_ids:
        agents = agents.exclude(pk__in=list(exclude_agent_ids))
    return agents.exists()
