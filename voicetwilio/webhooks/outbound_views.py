"""Twilio-facing endpoints of outbound calls and callbacks (issue 19), wrapped like every webhook."""

from django.http import HttpRequest

from .. import outbound
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
