"""Queued callbacks at the Twilio edge (issue 19): the "press 1" offer, ringing the agent, dialling the customer.

No timer anywhere. The offer rides on the conference waitUrl that Twilio fetches again and again (each fetch of a
caller waiting long enough offers once, by a Callback row insert). Due callbacks are driven by `manage.py
run_due_callbacks` (a scheduler runs it every few seconds on any number of hosts: claims take SKIP LOCKED), and
every further step is a Twilio callback on the callback's legs (`callback-leg?callback=<id>&leg=agent|customer`).
"""

import logging

from django.http import HttpRequest
from twilio.twiml.voice_response import VoiceResponse

from voiceconfig import calls as call_services
from voiceconfig.calls import callbacks as callback_services
from voiceconfig.models import Call, Callback, CallStatus

from . import gateway, outbound, twiml
from .links import webhook_url
from .webhooks import flow

logger = logging.getLogger(__name__)

OFFER = "You can hang up and be called back without losing your place. To be called back, press 1."
ACCEPTED = "Thank you. We will call you back at this number when it is your turn. Goodbye."
OFFER_SECONDS = 6
AGENT_LABEL = "agent"
CUSTOMER_LABEL = "caller"
UNANSWERED = {CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED}


# --- the offer -------------------------------------------------------------------------------------------------


def offer_if_due(request: HttpRequest, *, call: Call) -> None:
    """On a waitUrl fetch: a caller who waited long enough is taken out of the music to hear the offer, once."""
    if not callback_services.callback_offer(call=call):
        return
    try:
        gateway.redirect_call(call_sid=call.call_sid, url=webhook_url("callback-offer", request, callSid=call.call_sid))
    except gateway.GatewayError as exc:
        logger.warning("could not offer a callback to %s: %s", call.call_sid, exc.message)
        callback_services.callback_decline(call=call)


def offer_twiml(request: HttpRequest, *, call_sid: str) -> str:
    """'Press 1 to be called back'; silence or another key posts the choice too, and they keep waiting."""
    call = flow.find_call(call_sid)
    config = call.phone_line.config if call is not None and call.phone_line else None
    choice_url = webhook_url("callback-choice", request, callSid=call_sid)
    response = VoiceResponse()
    gather = response.gather(input="dtmf", num_digits=1, action=choice_url, method="POST", timeout=OFFER_SECONDS)
    flow.speech_of(config).with_text(OFFER).add_to(gather)
    response.redirect(choice_url, method="POST")
    return response.to_xml()


def choice_twiml(request: HttpRequest, *, call_sid: str, digits: str) -> str:
    call = flow.find_call(call_sid)
    if call is None or call.phone_line is None:
        return twiml.message_and_hang_up(twiml.Prompt(text=flow.CANNOT_CONNECT))
    config = call.phone_line.config
    if digits == "1" and callback_services.callback_accept(call_sid=call_sid) is not None:
        return twiml.message_and_hang_up(flow.speech_of(config).with_text(ACCEPTED))
    callback_services.callback_decline(call=call)
    # Back to the music in the call's conference; their place (queued_at) never changed.
    return flow.answer_for_stage(call, config, request)


# --- due callbacks: ring the agent first --------------------------------------------------------------------------


def ring_due_callbacks(*, request: HttpRequest | None = None, limit: int = 1000) -> int:
    """Claim due callbacks while free agents last and ring each claimed agent. Returns how many agents were rung.

    A callback Twilio refused to ring for is released (due again at once) but not claimed again in this run: the
    next run retries it, instead of this one asking Twilio up to `limit` times for the same customer."""
    rung = 0
    refused: set[int] = set()
    for _ in range(limit):
        claim = callback_services.callback_claim_due(exclude=refused)
        if claim is None:
            break
        if ring_agent(claim.callback, claim.agent, request=request):
            rung += 1
        else:
            refused.add(claim.callback.pk)
    return rung


def ring_agent(callback: Callback, agent, *, request: HttpRequest | None = None) -> bool:
    line = callback.phone_line
    try:
        participant = gateway.add_participant(
            conference_name=callback.conference_name,
            to=f"client:{agent.identity}",
            from_=line.phone_number if line else callback.customer_number,
            status_callback_url=webhook_url("callback-leg", request, callback=callback.pk, leg="agent"),
            timeout_seconds=line.config.ring_timeout_seconds if line else 20,
            label=AGENT_LABEL,
            end_conference_on_exit=True,
        )
    except gateway.GatewayError as exc:
        callback_services.callback_release_agent(
            callback_id=callback.pk, reason=f"Could not ring agent {agent}: {exc.message}"
        )
        return False
    callback_services.callback_record_agent_leg(callback=callback, leg_sid=participant.call_sid)
    return True


# --- the legs' callbacks ----------------------------------------------------------------------------------------


def agent_leg_event(request: HttpRequest, *, callback_id: int, leg_sid: str, status: str) -> None:
    if status == CallStatus.IN_PROGRESS:
        callback = callback_services.callback_agent_answered(callback_id=callback_id, leg_sid=leg_sid)
        if callback is not None:
            dial_customer(request, callback)
    elif status in UNANSWERED:
        callback_services.callback_release_agent(
            callback_id=callback_id, reason=f"The agent's phone did not answer ({status}): the next agent is tried."
        )
    elif status == CallStatus.COMPLETED:
        # The agent hung up. While the customer's phone still rings, that attempt is over: their leg is cancelled,
        # or they would answer into an empty conference.
        moved = callback_services.callback_agent_left(callback_id=callback_id, leg_sid=leg_sid)
        if moved is not None:
            _hang_up(moved.customer_call_sid, whose="customer")


def dial_customer(request: HttpRequest, callback: Callback) -> None:
    line = callback.phone_line
    try:
        participant = gateway.add_participant(
            conference_name=callback.conference_name,
            to=callback.customer_number,
            from_=line.phone_number if line else "",
            status_callback_url=webhook_url("callback-leg", request, callback=callback.pk, leg="customer"),
            timeout_seconds=line.config.ring_timeout_seconds if line else 20,
            label=CUSTOMER_LABEL,
            end_conference_on_exit=True,
        )
    except gateway.GatewayError as exc:
        if callback_services.callback_customer_unanswered(
            callback_id=callback.pk, reason=f"Could not dial the customer: {exc.message}"
        ):
            _hang_up(callback.agent_call_sid)
        return
    recorded = callback_services.callback_record_dialled(
        callback=callback, customer_leg_sid=participant.call_sid, conference_sid=participant.conference_sid
    )
    if recorded is None:
        _hang_up(participant.call_sid, whose="customer")  # the agent hung up while Twilio was dialling


def customer_leg_event(
    request: HttpRequest | None, *, callback_id: int, leg_sid: str, status: str, sequence_number, timestamp, data
) -> None:
    if status == CallStatus.IN_PROGRESS:
        callback_services.callback_customer_answered(callback_id=callback_id)
        # Talk time starts, and an `always` line records from now (as a click-to-dial call does).
        outbound.customer_answered(request, customer_leg_sid=leg_sid)
    elif status in UNANSWERED:
        moved = callback_services.callback_customer_unanswered(
            callback_id=callback_id, reason=f"the customer did not answer ({status})"
        )
        if moved is not None:
            _hang_up(moved.agent_call_sid)
    if Call.objects.filter(call_sid=leg_sid).exists():
        call_services.call_apply_status(
            call_sid=leg_sid, status=status, sequence_number=sequence_number, timestamp=timestamp, data=data
        )


def _hang_up(leg_sid: str, *, whose: str = "agent") -> None:
    """End (or cancel, while it rings) a leg after commit; Twilio failing is logged: its status callbacks, or
    the other party hanging up, end it anyway."""
    if not leg_sid:
        return
    try:
        gateway.end_call(call_sid=leg_sid)
    except gateway.GatewayError as exc:
        logger.warning("could not hang up %s leg %s of a callback: %s", whose, leg_sid, exc.message)
