"""Wrap-up: the one implementation, used whenever an agent's part in a call ends.

The agent's last_call_ended_at is always set (routing offers calls longest idle first); an agent still on the call
goes to wrap-up for the config's wrap_up_seconds, then counts as available again (availability.py reads
wrap_up_until, no timer). An agent who chose another status meanwhile keeps it.
"""

from datetime import datetime, timedelta

from django.db.models import Case, F, Q, Value, When

from ..models import AgentStatus, Call, PhoneLine, VoiceAgent, VoiceConfig

# The statuses of an agent still on the call: they wrap up.
ON_THE_CALL = (AgentStatus.RINGING, AgentStatus.IN_CALL)


def wrap_up_seconds(call: Call) -> int:
    """The wrap-up time of the call's config; one small query unless the config was loaded with the call."""
    if not call.phone_line_id:
        return 0
    if Call.phone_line.is_cached(call) and PhoneLine.config.is_cached(call.phone_line):
        return call.phone_line.config.wrap_up_seconds
    seconds = VoiceConfig.objects.filter(phone_lines=call.phone_line_id).values_list("wrap_up_seconds", flat=True)
    return seconds.first() or 0


def agent_start_wrap_up(*, agent_id: int, call: Call, now: datetime, from_statuses=ON_THE_CALL) -> int:
    """The agent's part in `call` ended at `now`: wrap-up for the config's time if they are in `from_statuses`.
    Returns that time (the call's wrap_up_seconds fact, stats_facts.py)."""
    wraps_up = Q(status__in=list(from_statuses))
    seconds = wrap_up_seconds(call)
    until = now + timedelta(seconds=seconds)
    # One statement: the end time always, the wrap-up only for an agent still on the call.
    VoiceAgent.objects.filter(pk=agent_id).update(
        last_call_ended_at=now,
        status=Case(When(wraps_up, then=Value(AgentStatus.WRAP_UP)), default=F("status")),
        status_changed_at=Case(When(wraps_up, then=Value(now)), default=F("status_changed_at")),
        wrap_up_until=Case(When(wraps_up, then=Value(until)), default=F("wrap_up_until")),
    )
    return seconds
