"""Twilio-facing endpoints of outbound calls and callbacks (issue 19), wrapped like every webhook."""

from django.http import HttpRequest

from .. import callbacks, outbound
from ..signature import twilio_webhook
from .http import TwilioParams
from .validation import reject_unknown_enums
from .views import CALLBACK_FIELDS, EMPTY_TWIML, _callback_error


@twilio_webhook(on_error=_callback_error)
@reject_unknown_enums
def outbound_status(request: HttpRequest) -> str:
    """Status changes of the customer's leg of a click-to-dial call (`?agentLeg=<the agent's CallSid>`)."""
    params = TwilioParams(request)
    outbound.customer_status(
        agent_leg_sid=request.GET.get("agentLeg", ""),
        customer_leg_sid=params.get("CallSid"),
        status=params.get("CallStatus"),
        sequence_number=params.get_int("SequenceNumber"),
        timestamp=params.get_time("Timestamp"),
        data=params.as_dict(CALLBACK_FIELDS),
    )
    return EMPTY_TWIML


def _callback_id(request: HttpRequest) -> int:
    value = request.GET.get("callback", "")
    return int(value) if value.isdigit() and len(value) <= 18 else 0


@twilio_webhook
@reject_unknown_enums
def callback_offer(request: HttpRequest) -> str:
    """Where a caller who waited long enough is redirected: "press 1 to be called back"."""
    return callbacks.offer_twiml(request, call_sid=request.GET.get("callSid", ""))


@twilio_webhook
@reject_unknown_enums
def callback_choice(request: HttpRequest) -> str:
    """The caller's answer to the offer: 1 ends their call with a callback; anything else, back to waiting."""
    params = TwilioParams(request)
    return callbacks.choice_twiml(request, call_sid=request.GET.get("callSid", ""), digits=params.get("Digits"))


@twilio_webhook(on_error=_callback_error)
@reject_unknown_enums
def callback_leg(request: HttpRequest) -> str:
    """Status changes of a callback's legs (`?callback=<id>&leg=agent|customer`)."""
    params = TwilioParams(request)
    callback_id, status, leg_sid = _callback_id(request), params.get("CallStatus"), params.get("CallSid")
    if request.GET.get("leg") == "agent":
        callbacks.agent_leg_event(request, callback_id=callback_id, leg_sid=leg_sid, status=status)
    else:
        callbacks.customer_leg_event(
            callback_id=callback_id,
            leg_sid=leg_sid,
            status=status,
            sequence_number=params.get_int("SequenceNumber"),
            timestamp=params.get_time("Timestamp"),
            data=params.as_dict(CALLBACK_FIELDS),
        )
    return EMPTY_TWIML
