"""Click-to-dial (issue 19): the toll-fraud guard, and the outbound call's row from decision to outcome.

An agent's softphone places a call (the TwiML application's voice request, `From=client:<identity>`). Decide:
the guard and the agent's row lock say yes or no, and a yes writes the Call (outbound-dial, the agent reserved,
ringing) keyed by the agent's leg. The edge then dials the customer into the agent's conference through the
gateway and records the customer's leg here, which becomes the call's `call_sid`: hold, resume and transfer act
on `call_sid` as the party the agent talks to, exactly as for an inbound caller. Every refusal is a Call row in
stage `rejected` with its reason on the timeline.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import (
    TERMINAL_CALL_STATUSES,
    AgentStatus,
    Call,
    CallDirection,
    CallEvent,
    CallStage,
    CallStatus,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)
from .log import call_log_add
from .stage import conference_name_for

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
OUTBOUND_WINDOW = timedelta(hours=1)


class DialRefused(Exception):
    """The guard said no: `message` is what the agent is told."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def lines_of(agent: VoiceAgent) -> QuerySet[PhoneLine]:
    """The enabled lines whose number the agent may call from: theirs, and lines that list no agents at all."""
    return (
        PhoneLine.objects.filter(enabled=True)
        .filter(Q(agents=agent) | Q(agents__isnull=True))
        .select_related("config")
        .distinct()
        .order_by("id")
    )


def choose_line(*, agent: VoiceAgent, line_id: int | None) -> PhoneLine:
    """The line to call from: the one the agent picked, or their only line. Raises DialRefused otherwise."""
    lines = list(lines_of(agent))
    if line_id is not None:
        for line in lines:
            if line.pk == line_id:
                return line
        raise DialRefused("You cannot call from that line: pick one of your own lines.")
    if len(lines) == 1:
        return lines[0]
    if not lines:
        raise DialRefused("You belong to no enabled line, so there is no number to call from.")
    raise DialRefused("You answer several lines: pick the line to call from.")


def allowed_country_codes(*, config: VoiceConfig, line: PhoneLine) -> set[int]:
    """The config's allow-list, or the line's own country when the list is empty."""
    codes = {int(code) for code in re.findall(r"\d{1,3}", config.outbound_country_codes or "")}
    if codes:
        return codes
    return {phonenumbers.parse(line.phone_number, None).country_code}


def denied_prefixes(config: VoiceConfig) -> list[str]:
    return [p.strip() for p in (config.outbound_denied_prefixes or "").split(",") if E164_PREFIX.match(p.strip())]


E164_PREFIX = re.compile(r"^\+[0-9]{1,15}$")


def check_number(*, number: str, line: PhoneLine) -> None:
    """The number half of the guard: E.164, a valid number, an allowed country, no premium prefix."""
    if not E164.match(number or ""):
        raise DialRefused(f"{number or 'An empty number'} is not an E.164 number (+ country code, digits only).")
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise DialRefused(f"{number} is not a phone number.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise DialRefused(f"{number} is not a valid phone number.")
    config = line.config
    if parsed.country_code not in allowed_country_codes(config=config, line=line):
        raise DialRefused(f"Calls to country code +{parsed.country_code} are not allowed from {line.name}.")
    for prefix in denied_prefixes(config):
        if number.startswith(prefix):
            raise DialRefused(f"{number} is a premium-rate number ({prefix}): it cannot be dialled.")


def outbound_calls_in_last_hour(*, agent: VoiceAgent, now: datetime) -> int:
    """Outbound calls the agent placed (not refused ones) in the hour before `now`, answered or not: a dial the
    agent hung up on before the customer answered still counts (`placed_by` keeps them when `agent` lets go)."""
    return (
        Call.objects.filter(
            Q(placed_by_id=agent.pk) | Q(agent_id=agent.pk),
            direction__in=[CallDirection.OUTBOUND_DIAL, CallDirection.OUTBOUND_API],
            started_at__gte=now - OUTBOUND_WINDOW,
        )
        .exclude(stage=CallStage.REJECTED)
        .count()
    )


def check_hourly_limit(*, agent: VoiceAgent, line: PhoneLine, now: datetime | None = None) -> None:
    limit = line.config.outbound_calls_per_agent_hour
    if outbound_calls_in_last_hour(agent=agent, now=now or timezone.now()) >= limit:
        raise DialRefused(f"You have reached the limit of {limit} outbound calls an hour.")


@dataclass
class DialDecision:
    call: Call
    line: PhoneLine | None
    refused: str = ""  # the message the agent hears when the guard said no


def outbound_decide(
    *, agent_leg_sid: str, agent: VoiceAgent, number: str, line_id: int | None, returns_call_id: int | None = None
) -> DialDecision:
    """Decide an agent's dial: refused (a rejected Call with the reason), or a ringing outbound Call.

    The agent's row lock orders two dials of one agent, so the hourly limit counts the first before the second.
    The same agent leg asked again (Twilio retrying the voice request) gets the stored decision back.
    """
    existing = (
        Call.objects.filter(
            Q(call_sid=agent_leg_sid) | Q(agent_call_sid=agent_leg_sid), direction=CallDirection.OUTBOUND_DIAL
        )
        .select_related("phone_line__config")
        .first()
    )
    if existing is not None:
        return DialDecision(call=existing, line=existing.phone_line, refused=_stored_refusal(existing))
    now = timezone.now()
    line: PhoneLine | None = None
    try:
        with transaction.atomic():
            locked = VoiceAgent.objects.select_for_update().get(pk=agent.pk)
            line = choose_line(agent=locked, line_id=line_id)
            check_number(number=number, line=line)
            check_hourly_limit(agent=locked, line=line, now=now)
            if Call.objects.active().filter(agent_id=locked.pk).exists():
                raise DialRefused("Finish your current call before dialling another.")
            call = Call.objects.create(
                call_sid=agent_leg_sid,
                agent_call_sid=agent_leg_sid,
                from_number=line.phone_number,
                to_number=number,
                direction=CallDirection.OUTBOUND_DIAL,
                status=CallStatus.QUEUED,
                stage=CallStage.CONNECTED,
                phone_line=line,
                agent=locked,
                placed_by=locked,
                conference_name=conference_name_for(agent_leg_sid),
                started_at=now,
            )
            # Ringing until the customer answers: a customer who never answers frees the agent at once.
            VoiceAgent.objects.filter(pk=locked.pk).update(status=AgentStatus.RINGING, status_changed_at=now)
            call_log_add(
                call=call,
                call_sid=call.call_sid,
                event=CallEvent.ROUTING,
                message=f"Agent {locked} dials {number} from {line.name} ({line.phone_number}).",
                data={"agent": locked.pk, "line": line.pk, "to": number},
            )
            if returns_call_id is not None:
                call_mark_followed_up(call_id=returns_call_id, how=f"called back by {locked}", now=now)
            return DialDecision(call=call, line=line)
    except (DialRefused, IntegrityError) as exc:
        message = exc.message if isinstance(exc, DialRefused) else "Finish your current call before dialling another."
        return DialDecision(
            call=_refused_call(agent_leg_sid, agent, number, line, message, now), line=line, refused=message
        )


def _refused_call(
    agent_leg_sid: str, agent: VoiceAgent, number: str, line: PhoneLine | None, message: str, now: datetime
) -> Call:
    call = Call.objects.create(
        call_sid=agent_leg_sid,
        from_number=line.phone_number if line else f"client:{agent.identity}",
        to_number=number[:200],
        direction=CallDirection.OUTBOUND_DIAL,
        status=CallStatus.COMPLETED,
        stage=CallStage.REJECTED,
        phone_line=line,
        placed_by=agent,
        started_at=now,
        ended_at=now,
    )
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        dedupe_key="dial-refused",
        message=f"Dial refused for agent {agent}: {message}",
        data={"agent": agent.pk, "to": number[:200], "refused": message},
    )
    return call


def _stored_refusal(call: Call) -> str:
    if call.stage != CallStage.REJECTED:
        return ""
    log = call.logs.filter(dedupe_key="dial-refused").first()
    return (log.data or {}).get("refused", "Dial refused.") if log else "Dial refused."


def outbound_record_dialled(*, call: Call, customer_leg_sid: str, conference_sid: str = "") -> None:
    """Twilio is dialling the customer: their leg becomes the call's SID (the party hold and transfer act on)."""
    updates: dict = {"call_sid": customer_leg_sid, "updated_at": timezone.now()}
    if conference_sid:
        updates["conference_sid"] = conference_sid
    Call.objects.filter(pk=call.pk, call_sid=call.agent_call_sid).update(**updates)
    call.call_sid = customer_leg_sid
    call.conference_sid = conference_sid or call.conference_sid


@transaction.atomic
def outbound_record_failed(*, call: Call, reason: str) -> None:
    """Twilio refused to dial the customer: the call ends failed and the agent is free again."""
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        status=CallStatus.FAILED, ended_at=now, agent=None, agent_call_sid="", updated_at=now
    )
    if call.agent_id:
        VoiceAgent.objects.filter(pk=call.agent_id, status=AgentStatus.RINGING).update(
            status=AgentStatus.AVAILABLE, status_changed_at=now
        )
    call_log_add(call=call, call_sid=call.call_sid, event=CallEvent.ROUTING, message=reason)


def outbound_record_answered(*, call_sid: str) -> Call | None:
    """The customer answered: talk time starts and the agent is in the call (once, however often told)."""
    now = timezone.now()
    call = Call.objects.filter(call_sid=call_sid, answered_at__isnull=True).exclude(agent=None).first()
    if call is None:
        return None
    if Call.objects.filter(pk=call.pk, answered_at__isnull=True).update(answered_at=now, updated_at=now):
        VoiceAgent.objects.filter(pk=call.agent_id).update(status=AgentStatus.IN_CALL, status_changed_at=now)
        call_log_add(
            call=call,
            call_sid=call.call_sid,
            event=CallEvent.AGENT,
            dedupe_key="customer-answered",
            message="The customer answered.",
        )
    return call


@transaction.atomic
def outbound_agent_left(*, agent_leg_sid: str) -> str:
    """The agent's leg left the conference. Before the customer answered, the call has nobody to talk to: the
    agent is free at once, and the customer's leg is returned for the edge to cancel after commit ('' when there
    is nothing to cancel: answered, ended, or told before).

    The call keeps no agent (as when Twilio refused to dial): should the cancel fail and the customer answer,
    their answer starts no talk time or recording, and the end of their leg cannot free an agent who is by then
    on another call.
    """
    now = timezone.now()
    call = (
        Call.objects.select_for_update()
        .filter(direction=CallDirection.OUTBOUND_DIAL, agent_call_sid=agent_leg_sid, answered_at__isnull=True)
        .exclude(agent=None)
        .exclude(status__in=TERMINAL_CALL_STATUSES)
        .first()
    )
    if call is None:
        return ""
    Call.objects.filter(pk=call.pk).update(agent=None, updated_at=now)
    VoiceAgent.objects.filter(pk=call.agent_id, status=AgentStatus.RINGING).update(
        status=AgentStatus.AVAILABLE, status_changed_at=now, last_call_ended_at=now
    )
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.AGENT,
        dedupe_key="agent-left-unanswered",
        message="The agent hung up before the customer answered: the customer's call is cancelled.",
    )
    # Not dialled yet (the leg is still the agent's own): nothing rings.
    return call.call_sid if call.call_sid != agent_leg_sid else ""


# --- missed calls to follow up --------------------------------------------------------------------------------


def missed_calls() -> QuerySet[Call]:
    """Inbound calls nobody talked to (abandoned, or a voicemail) that nobody has returned yet, newest first."""
    return Call.objects.filter(
        Q(stage=CallStage.ABANDONED) | Q(voicemail=True),
        direction=CallDirection.INBOUND,
        followed_up_at__isnull=True,
        answered_at__isnull=True,
    ).order_by("-created_at", "-id")


def call_mark_followed_up(*, call_id: int, how: str, now: datetime | None = None) -> bool:
    """A missed call is done (called back, or marked by hand). False when it already was, or is not missed."""
    now = now or timezone.now()
    call = missed_calls().filter(pk=call_id).first()
    if call is None or not Call.objects.filter(pk=call_id, followed_up_at__isnull=True).update(followed_up_at=now):
        return False
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.NOTE,
        dedupe_key="followed-up",
        message=f"Followed up: {how}.",
    )
    return True
