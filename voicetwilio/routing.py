"""Routing callers to agents (decisions 4 and 6): reserve atomically in PostgreSQL, then ring through the gateway.

The database work (which agent, which caller, the locks) is in voiceconfig.calls; this module adds the Twilio
side and never calls Twilio while holding a row lock. There are no timers: a ring that times out comes back as
the agent leg's participant callback (no-answer), a waiting caller's hold music is the conference waitUrl that
Twilio fetches again and again (for a caller requeued after a transfer nobody answered, their participant holdUrl,
the same webhook), and each fetch retries routing and checks the maximum wait.
"""

import logging

from django.http import HttpRequest

from voiceconfig import calls as call_services
from voiceconfig.models import Call, PhoneLine, VoiceAgent

from . import gateway
from .links import webhook_url

logger = logging.getLogger(__name__)

AGENT_LABEL = "agent"


def connect_agent(*, call: Call, agent: VoiceAgent, request: HttpRequest | None = None) -> bool:
    """Ring the reserved agent's softphone into the call's conference. False (agent released) if Twilio fails.

    The agent's leg ends the conference when it leaves (the caller is not left alone in it); a transfer turns
    that off first (gateway.set_participant_ends_conference). Its call-progress events come back to the
    participant callback, which is how a ring timeout is noticed.
    """
    config = call.phone_line.config if call.phone_line_id else None
    ring_timeout = config.ring_timeout_seconds if config else 20
    try:
        participant = gateway.add_participant(
            conference_name=call.conference_name or call_services.conference_name_for(call.call_sid),
            to=f"client:{agent.identity}",
            from_=caller_id_for(call),
            status_callback_url=webhook_url("participant-callback", request, callSid=call.call_sid, agent=agent.pk),
            timeout_seconds=ring_timeout,
            label=AGENT_LABEL,
            end_conference_on_exit=True,
        )
    except gateway.GatewayError as exc:
        logger.warning("could not ring agent %s for %s: %s", agent.identity, call.call_sid, exc.message)
        call_services.call_release_agent(
            call=call, agent=agent, reason=f"Could not ring agent {agent}: {exc.message} The caller keeps waiting."
        )
        return False
    call_services.call_attach_agent_leg(
        call=call, agent=agent, leg_sid=participant.call_sid, conference_sid=participant.conference_sid
    )
    return True


def caller_id_for(call: Call) -> str:
    """The number the agent's leg comes from: the line the customer dialled (a Twilio number, always allowed)."""
    if call.phone_line_id:
        return call.phone_line.phone_number
    return call.to_number


def route_waiting_callers(
    *, line: PhoneLine | None, request: HttpRequest | None = None, exclude_agent_ids=(), call: Call | None = None
) -> Call | None:
    """Offer the longest-idle free agent of `line` the longest-waiting caller they may answer, and ring them.

    Used whenever a caller starts waiting or a wait TwiML is fetched, so the caller waiting longest is served
    first even when a newer call triggered the attempt. Returns the call that now has an agent ringing.
    `call` (the caller who triggered it) says which department routes, when they wait in one.
    """
    match = call_services.call_match_agent(line=line, exclude_agent_ids=exclude_agent_ids, call=call)
    if match is None:
        return None
    if match.offers:
        ring_all(call=match.call, offers=match.offers, request=request)
    else:
        connect_agent(call=match.call, agent=match.agent, request=request)
    return match.call


def ring_all(*, call: Call, offers, request: HttpRequest | None = None) -> None:
    """Ring every member a ring-all department offered the caller to, at once (their offers are committed).

    Each leg joins without ending the conference on exit, so a member who answers a moment after the winner (and
    whose leg we then hang up) does not end the caller's call; the winner's leg is switched to end it once it
    has won (participant callback). Whoever answers first is decided by the leg webhooks (calls/ringall.py).
    """
    config = call.phone_line.config if call.phone_line_id else None
    legs, failed, conference_sid = {}, [], ""
    for offer in offers:
        try:
            participant = gateway.add_participant(
                conference_name=call.conference_name or call_services.conference_name_for(call.call_sid),
                to=f"client:{offer.agent.identity}",
                from_=caller_id_for(call),
                status_callback_url=webhook_url(
                    "participant-callback", request, callSid=call.call_sid, agent=offer.agent_id, ringAll=1
                ),
                timeout_seconds=config.ring_timeout_seconds if config else 20,
                label=f"{AGENT_LABEL}-{offer.agent_id}",
                end_conference_on_exit=False,
            )
        except gateway.GatewayError as exc:
            logger.warning("could not ring agent %s for %s: %s", offer.agent.identity, call.call_sid, exc.message)
            failed.append(offer.pk)
            continue
        legs[offer.pk] = participant.call_sid
        conference_sid = conference_sid or participant.conference_sid
    stale = call_services.ring_offers_record(call=call, legs=legs, conference_sid=conference_sid, failed=failed)
    for leg_sid in stale:  # someone answered (or the caller left) before we knew these legs' SIDs
        hang_up_quietly(call_sid=leg_sid, why="another member answered the ring-all first")


def ring_all_won(*, call: Call, leg_sid: str) -> None:
    """The leg that answered a ring-all first is the call's agent leg: its leaving now ends the conference, as
    an ordinary agent leg's does (connect_agent). A failure is logged: the call goes on either way."""
    if not call.conference_sid:
        logger.warning("ring-all winner %s on %s: no conference SID yet to update", leg_sid, call.call_sid)
        return
    try:
        gateway.set_participant_ends_conference(
            conference_sid=call.conference_sid, call_sid=leg_sid, end_conference_on_exit=True
        )
    except gateway.GatewayError as exc:
        logger.warning("could not make %s end the conference on exit: %s", leg_sid, exc.message)


def offer_queued_call(*, agent: VoiceAgent, request: HttpRequest | None = None) -> Call | None:
    """An agent became available: give them the longest-waiting call they may answer, and ring them."""
    call = call_services.call_offer_to_agent(agent=agent)
    if call is None:
        return None
    if not connect_agent(call=call, agent=agent, request=request):
        return None
    return call


def retry_after_missed_ring(*, call: Call, missed_agent_id: int, request: HttpRequest | None = None) -> Call | None:
    """The agent let it ring out: try the next agent (not the one who just missed it)."""
    return route_waiting_callers(line=call.phone_line, request=request, exclude_agent_ids=(missed_agent_id,), call=call)


def hang_up_quietly(*, call_sid: str, why: str) -> None:
    """End a leg at Twilio; a failure is logged, not raised (it is cleanup after the fact)."""
    try:
        gateway.end_call(call_sid=call_sid)
    except gateway.GatewayError as exc:
        # Usually the leg had already ended on its own; nothing on the call depends on this.
        logger.warning("could not hang up %s (%s): %s", call_sid, why, exc.message)
