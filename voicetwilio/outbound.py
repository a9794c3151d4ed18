"""Click-to-dial at the Twilio edge (issue 19): the TwiML application's voice request from an agent's softphone.

The softphone's `Device.connect({params: {To, line, returns}})` reaches the voice webhook with
`From=client:<identity>`. Decide (voiceconfig.calls.outbound: the guard, the agent's lock, the Call row), dial
the customer into the agent's conference through the gateway with no transaction open, record the customer's
leg; then answer the agent's leg with TwiML that puts them in that conference. A refusal is said to the agent
("Calls to country code +882 are not allowed") and the call ends.
"""

import logging

from django.http import HttpRequest
from twilio.twiml.voice_response import Dial, VoiceResponse

from voiceconfig import calls as call_services
from voiceconfig.calls import outbound as outbound_services
from voiceconfig.models import Call, CallEvent, CallStatus, VoiceAgent

from . import gateway, recording, twiml
from .links import webhook_url
from .twiml import Prompt
from .webhooks import flow

logger = logging.getLogger(__name__)

CLIENT_PREFIX = "client:"
CUSTOMER_LABEL = "caller"
CUSTOMER_RING_SECONDS = 30
COULD_NOT_DIAL = "Sorry, the call could not be placed. Please try again."


def is_from_softphone(from_number: str) -> bool:
    return (from_number or "").startswith(CLIENT_PREFIX)


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 18 else None


def dial(request: HttpRequest, *, agent_leg_sid: str, from_client: str, to_number: str) -> str:
    """Answer a softphone's voice request: the agent in a conference and the customer dialled into it."""
    identity = from_client[len(CLIENT_PREFIX) :]
    agent = VoiceAgent.objects.filter(identity=identity).first()
    if agent is None:
        return twiml.message_and_hang_up(Prompt(text="This softphone belongs to no agent. Goodbye."))
    params = request.POST
    decision = outbound_services.outbound_decide(
        agent_leg_sid=agent_leg_sid,
        agent=agent,
        number=(to_number or "").strip(),
        line_id=_int_or_none(params.get("line", "")),
        returns_call_id=_int_or_none(params.get("returns", "")),
    )
    if decision.refused:
        return twiml.message_and_hang_up(Prompt(text=f"Call refused. {decision.refused}"))
    call = decision.call
    if call.call_sid == agent_leg_sid:
        # Not dialled yet (a retried voice request finds it dialled: it only rejoins the conference).
        try:
            participant = gateway.add_participant(
                conference_name=call.conference_name,
                to=call.to_number,
                from_=call.from_number,
                status_callback_url=webhook_url("outbound-status", request, agentLeg=agent_leg_sid),
                timeout_seconds=CUSTOMER_RING_SECONDS,
                label=CUSTOMER_LABEL,
                end_conference_on_exit=True,
            )
        except gateway.GatewayError as exc:
            logger.warning("could not dial %s for agent %s: %s", call.to_number, identity, exc.message)
            outbound_services.outbound_record_failed(call=call, reason=f"Could not dial the customer: {exc.message}")
            return twiml.message_and_hang_up(Prompt(text=COULD_NOT_DIAL))
        outbound_services.outbound_record_dialled(
            call=call, customer_leg_sid=participant.call_sid, conference_sid=participant.conference_sid
        )
    elif not call.is_active:
        return twiml.empty()
    # Recording is started over REST by the agent's controls (docs/recording.md), never by the conference.
    return agent_in_conference(
        call.conference_name,
        status_callback_url=webhook_url("outbound-conference", request, agentLeg=agent_leg_sid),
    )


def agent_in_conference(conference_name: str, *, status_callback_url: str = "") -> str:
    """The agent starts the conference (hearing the customer's phone ring) and ends it on hanging up.

    `status_callback_url` hears the agent leave: a customer whose phone still rings is then cancelled (the end of
    the conference does not stop Twilio dialling them)."""
    response = VoiceResponse()
    dial = Dial()
    dial.conference(
        conference_name,
        start_conference_on_enter=True,
        end_conference_on_exit=True,
        beep=False,
        participant_label="agent",
        **(
            {"status_callback": status_callback_url, "status_callback_method": "POST", "status_callback_event": "leave"}
            if status_callback_url
            else {}
        ),
    )
    response.append(dial)
    response.hangup()
    return response.to_xml()


def agent_left(*, agent_leg_sid: str, leaving_leg_sid: str) -> None:
    """A participant left the agent's conference. The agent, before the customer answered: cancel the customer's
    leg after the decision is committed (a Twilio failure is logged: the customer's answer then counts nothing)."""
    if not agent_leg_sid or leaving_leg_sid != agent_leg_sid:
        return  # the customer leaving ends the call through its own status callbacks
    customer_leg_sid = outbound_services.outbound_agent_left(agent_leg_sid=agent_leg_sid)
    if not customer_leg_sid:
        return
    try:
        gateway.end_call(call_sid=customer_leg_sid)
    except gateway.GatewayError as exc:
        logger.warning("could not cancel customer leg %s after the agent hung up: %s", customer_leg_sid, exc.message)


def customer_answered(request: HttpRequest | None, *, customer_leg_sid: str) -> None:
    """The customer picked up: talk time starts, they hear the line's recording consent (as an inbound caller
    does before waiting), and an `always` line records from now, as when an agent answers an inbound caller
    (docs/recording.md). A customer who could not be told is not recorded automatically."""
    call = outbound_services.outbound_record_answered(call_sid=customer_leg_sid)
    if call is not None and tell_about_recording(request, call=call):
        recording.start_if_always(call=call, request=request)


def tell_about_recording(request: HttpRequest | None, *, call: Call) -> bool:
    """Announce the line's recording consent to the dialled customer, in the conference (Twilio's participant
    announcement: the Participants API cannot give the new leg TwiML of its own). True when told, or when there is
    nothing to tell (recording off, no consent message)."""
    config = call.phone_line.config if call.phone_line_id and call.phone_line else None
    if config is None or not flow.recording_consent(config):
        return True
    try:
        gateway.announce_to_participant(
            conference_sid=call.conference_sid or call.conference_name,
            call_sid=call.call_sid,
            announce_url=webhook_url("recording-consent", request, callSid=call.call_sid),
        )
    except gateway.GatewayError as exc:
        logger.warning("could not tell customer %s about recording: %s", call.call_sid, exc.message)
        call_services.call_log_note(
            call=call,
            event=CallEvent.RECORDING,
            dedupe_key="consent-failed",
            message=f"Could not tell the customer the call may be recorded ({exc.message}): not recorded.",
        )
        return False
    call_services.call_log_note(
        call=call,
        event=CallEvent.RECORDING,
        dedupe_key="consent-announced",
        message="The customer is told the call may be recorded (an announcement before anything is recorded).",
    )
    return True


def recording_consent_twiml(*, call_sid: str) -> str:
    """The announcement itself: the consent an inbound caller hears (docs/recording.md), in the line's voice."""
    call = Call.objects.filter(call_sid=call_sid).select_related("phone_line__config").first()
    config = call.phone_line.config if call is not None and call.phone_line_id and call.phone_line else None
    response = VoiceResponse()
    for prompt in flow.recording_consent(config) if config is not None else ():
        prompt.add_to(response)
    return response.to_xml()


def customer_status(
    request: HttpRequest | None,
    *,
    agent_leg_sid: str,
    customer_leg_sid: str,
    status: str,
    sequence_number,
    timestamp,
    data,
) -> None:
    """A status callback of the customer's leg: Twilio's status machine, plus the answer that starts talk time."""
    if status == CallStatus.IN_PROGRESS:
        customer_answered(request, customer_leg_sid=customer_leg_sid)
    result = call_services.call_apply_status(
        call_sid=customer_leg_sid,
        status=status,
        sequence_number=sequence_number,
        timestamp=timestamp,
        data=data,
    )
    for leg_sid in result.legs_to_cancel:
        # The customer never answered: the agent's leg, still in the conference alone, is hung up.
        try:
            gateway.end_call(call_sid=leg_sid)
        except gateway.GatewayError as exc:
            logger.warning("could not hang up agent leg %s after an unanswered dial: %s", leg_sid, exc.message)
