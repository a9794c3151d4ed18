"""Thin Twilio-facing endpoints: read Twilio's fields, call one flow or service function, answer TwiML.

All are wrapped by `twilio_webhook` (signature check, never a 500). Our own context rides in the query string of
the URLs we hand to Twilio (`callSid`, `agent`, `kind`); Twilio signs those URLs too, so it cannot be forged.
"""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest

from voiceconfig import calls as call_services
from voiceconfig.models import Call, CallEvent, CallStatus

from .. import callcontrol, outbound, recording, routing, twiml
from ..links import webhook_url
from ..signature import twilio_webhook
from . import fallback as fallback_twiml
from . import flow, openapi
from .http import TwilioParams
from .openapi import documented
from .validation import reject_unknown_enums

CALLBACK_FIELDS = (
    "CallSid",
    "CallStatus",
    "CallDuration",
    "CallbackSource",
    "SequenceNumber",
    "Timestamp",
    "From",
    "To",
    "Direction",
    "ParentCallSid",
    "SipResponseCode",
    "ErrorCode",
)
CONFERENCE_FIELDS = (
    "ConferenceSid",
    "FriendlyName",
    "StatusCallbackEvent",
    "CallSid",
    "ParticipantLabel",
    "Hold",
    "Muted",
    "EndConferenceOnExit",
    "ReasonConferenceEnded",
    "Reason",
    "SequenceNumber",
    "Timestamp",
)
# RecordingUrl is not logged: Twilio's media URL never leaves the server (docs/recording.md).
RECORDING_FIELDS = (
    "RecordingSid",
    "RecordingDuration",
    "RecordingStatus",
    "RecordingSource",
    "RecordingChannels",
    "RecordingStartTime",
    "ErrorCode",
    "Digits",
)


def _recording_url(params: TwilioParams) -> str:
    """Twilio's RecordingUrl, or "" when it is not an http(s) URL that fits the call's column (nothing recorded)."""
    url = params.get("RecordingUrl")
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        return ""
    return url if len(url) <= Call._meta.get_field("recording_url").max_length else ""


def _queue_wait_error(request: HttpRequest) -> str:
    # Inside the conference wait, a failure must not end the wait: keep the caller on hold and try again.
    params = TwilioParams(request)
    return twiml.hold_music(music_url="", next_url=webhook_url("queue-wait", request, callSid=params.get("CallSid")))


# Twilio ignores what a callback answers; an empty document is all it needs. Built once: it never changes.
EMPTY_TWIML = twiml.empty()


def _callback_error(request: HttpRequest) -> str:
    return EMPTY_TWIML


def _fallback_error(request: HttpRequest) -> str:
    return twiml.apology(fallback_url="")


@documented(openapi.VOICE)
@twilio_webhook
@reject_unknown_enums
def voice(request: HttpRequest) -> str:
    """A call comes in (configure on the phone number as "A call comes in", POST)."""
    params = TwilioParams(request)
    if outbound.is_from_softphone(params.get("From")):
        # The TwiML application's request: an agent dials out from the console (issue 19).
        return outbound.dial(
            request, agent_leg_sid=params.get("CallSid"), from_client=params.get("From"), to_number=params.get("To")
        )
    return flow.incoming(
        request,
        call_sid=params.get("CallSid"),
        from_number=params.get("From"),
        to_number=params.get("To"),
        status=params.get("CallStatus", "ringing"),
    )


@documented(openapi.GATHER)
@twilio_webhook
@reject_unknown_enums
def gather(request: HttpRequest) -> str:
    """The caller answered the IVR menu: Digits or SpeechResult (both empty on silence), and FinishedOnKey."""
    params = TwilioParams(request)
    return flow.gathered(
        request,
        call_sid=params.get("CallSid"),
        digits=params.get("Digits"),
        speech=params.get("SpeechResult"),
        confidence=params.get("Confidence"),
        status=params.get("CallStatus"),
        finished_on_key=params.get("FinishedOnKey"),
    )


# No enum check here: the fallback is the caller's last resort and answers whatever it is asked.
@documented(openapi.FALLBACK)
@twilio_webhook(on_error=_fallback_error)
def fallback(request: HttpRequest) -> str:
    """Twilio's fallback URL (and where our own apology redirects): answered without the database."""
    params = TwilioParams(request)
    return fallback_twiml.answer(
        request,
        call_sid=params.get("CallSid"),
        error_code=params.get("ErrorCode"),
        dial_status=params.get("DialCallStatus"),
    )


@documented(openapi.STATUS_CALLBACK)
@twilio_webhook(on_error=_callback_error)
@reject_unknown_enums
def status_callback(request: HttpRequest) -> str:
    """Status changes of the caller's leg (configure on the number as "Call status changes")."""
    params = TwilioParams(request)
    result = call_services.call_apply_status(
        call_sid=params.get("CallSid"),
        status=params.get("CallStatus"),
        sequence_number=params.get_int("SequenceNumber"),
        timestamp=params.get_time("Timestamp"),
        data=params.as_dict(CALLBACK_FIELDS),
    )
    flow.cancel_rings(result.legs_to_cancel)
    return EMPTY_TWIML


def _id_param(request: HttpRequest, name: str) -> int | None:
    """One of our ids from the query string of a URL we gave Twilio (`agent`, `transfer`)."""
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


@documented(openapi.PARTICIPANT_CALLBACK)
@twilio_webhook(on_error=_callback_error)
@reject_unknown_enums
def participant_callback(request: HttpRequest) -> str:
    """Call-progress events of a leg we added to a conference (`?callSid=<the caller's>&agent=<id>`)."""
    params = TwilioParams(request)
    agent = _id_param(request, "agent")
    result = call_services.call_apply_leg_event(
        call_sid=request.GET.get("callSid", ""),
        leg_sid=params.get("CallSid"),
        agent_id=agent,
        status=params.get("CallStatus"),
        sequence_number=params.get_int("SequenceNumber"),
        timestamp=params.get_time("Timestamp"),
        data=params.as_dict(CALLBACK_FIELDS),
        transfer_id=_id_param(request, "transfer"),
        ring_offer=request.GET.get("ringAll") == "1",
    )
    if result.ring_all_won:
        routing.ring_all_won(call=result.call, leg_sid=params.get("CallSid"))
    flow.cancel_rings(result.legs_to_cancel)  # the other members of a ring-all: someone answered first
    losing_offer = result.ring_offer and not result.ring_all_won and result.call is not None
    if losing_offer and result.call.agent_call_sid != params.get("CallSid"):
        # A ring-all leg that is not the call's agent leg: its events concern no transfer and no agent's call.
        if result.hang_up_leg:
            routing.hang_up_quietly(call_sid=result.hang_up_leg, why="another member answered the ring-all first")
        return EMPTY_TWIML
    if result.call is not None and result.status == CallStatus.COMPLETED and agent is not None:
        # An agent who hangs up while the call goes on without them (after a warm transfer) wraps up now.
        call_services.agent_leave_call(call_sid=result.call.call_sid, leg_sid=params.get("CallSid"), agent_id=agent)
    if result.call is not None and result.status in call_services.UNANSWERED and result.retry_excluding is None:
        # Perhaps a transfer's new party (an ordinary missed ring is retried below): back to the agent who
        # stayed, or the caller back in the queue. Decided once however often Twilio reports it.
        callcontrol.transfer_leg_unanswered(
            call_sid=result.call.call_sid, leg_sid=params.get("CallSid"), request=request
        )
    if result.unhold_caller:
        callcontrol.requeued_caller_answered(call=result.call)
    if result.agent_answered:
        recording.start_if_always(call=result.call, request=request)
    if result.call is not None and result.retry_excluding is not None:
        routing.retry_after_missed_ring(call=result.call, missed_agent_id=result.retry_excluding, request=request)
    if result.hang_up_leg:
        routing.hang_up_quietly(call_sid=result.hang_up_leg, why="the agent answered after the caller hung up")
    return EMPTY_TWIML


@documented(openapi.CONFERENCE_CALLBACK)
@twilio_webhook(on_error=_callback_error)
@reject_unknown_enums
def conference_callback(request: HttpRequest) -> str:
    """Events of the call's conference (start, end, join, leave, hold): logged; the first gives us its SID."""
    params = TwilioParams(request)
    call_services.call_apply_conference_event(
        call_sid=request.GET.get("callSid", ""),
        conference_sid=params.get("ConferenceSid"),
        event=params.get("StatusCallbackEvent"),
        participant_sid=params.get("CallSid"),
        sequence_number=params.get_int("SequenceNumber"),
        data=params.as_dict(CONFERENCE_FIELDS),
    )
    return EMPTY_TWIML


@documented(openapi.QUEUE_WAIT)
@twilio_webhook(on_error=_queue_wait_error)
@reject_unknown_enums
def queue_wait(request: HttpRequest) -> str:
    """The conference waitUrl (and a requeued caller's holdUrl, fetched with GET): hold music, a routing retry and
    the maximum-wait check on every fetch."""
    params = TwilioParams(request)
    call_sid = request.GET.get("callSid", "")
    # Twilio's CallSid is the leg whose music this is: only the caller's own request tells the caller's status.
    status = params.get("CallStatus") if params.get("CallSid") == call_sid else ""
    return flow.queue_wait(request, call_sid=call_sid, status=status)


@documented(openapi.VOICEMAIL)
@twilio_webhook
@reject_unknown_enums
def voicemail(request: HttpRequest) -> str:
    """A caller nobody could take: record a message (or say the unavailable message)."""
    params = TwilioParams(request)
    return flow.voicemail(request, call_sid=params.get("CallSid"), status=params.get("CallStatus"))


@documented(openapi.RECORDING_CALLBACK)
@twilio_webhook(on_error=_fallback_error)
@reject_unknown_enums
def recording_callback(request: HttpRequest) -> str:
    """A recording is ready: the <Record> action of a voicemail, or a recording status callback."""
    params = TwilioParams(request)
    kind = request.GET.get("kind", "")
    duration = params.get_int("RecordingDuration")
    call = call_services.call_store_recording(
        call_sid=params.get("CallSid"),
        recording_sid=params.get("RecordingSid"),
        recording_url=_recording_url(params),
        duration=duration,
        voicemail=kind == "voicemail",
        recording_status=params.get("RecordingStatus"),
        data=params.as_dict(RECORDING_FIELDS),
    )
    if call is not None:
        # A <Record> action carries the caller's CallStatus (completed when they hung up to end the message);
        # a recording status callback carries none.
        flow.note_status(call, params.get("CallStatus"), source="recording-callback")
    if kind == "voicemail":
        config = call.phone_line.config if call is not None and call.phone_line else None
        speech = flow.speech_of(config)
        return twiml.message_and_hang_up(speech.with_text("Thank you for your message. Goodbye."))
    return EMPTY_TWIML


@documented(openapi.DIAL_CALLBACK)
@twilio_webhook(on_error=_fallback_error)
@reject_unknown_enums
def dial_callback(request: HttpRequest) -> str:
    """A forwarded call finished: if the number did not answer, say so before hanging up."""
    params = TwilioParams(request)
    call = flow.find_call(params.get("CallSid"))
    status = params.get("DialCallStatus")
    if call is not None:
        call_services.call_log_add(
            call=call,
            call_sid=call.call_sid,
            event=CallEvent.ROUTING,
            dedupe_key=f"dial:{params.get('DialCallSid') or status}",
            call_status=status,
            message=f"Forwarded call ended: {status or 'unknown'}.",
            data=params.as_dict(("DialCallSid", "DialCallStatus", "DialCallDuration")),
        )
        # DialCallStatus is the forwarded leg's; CallStatus the caller's (completed when they hung up).
        flow.note_status(call, params.get("CallStatus"), source="dial-callback")
    config = call.phone_line.config if call is not None and call.phone_line else None
    speech = flow.speech_of(config)
    if status in ("completed", "answered"):
        return twiml.message_and_hang_up(speech.with_text(""))
    return twiml.message_and_hang_up(
        speech.with_text((config.unavailable_message if config else "") or flow.CANNOT_CONNECT)
    )
