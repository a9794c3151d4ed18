"""Twilio-facing endpoints of outbound calls and callbacks (issue 19), wrapped like every webhook."""

from django.http import HttpRequest

from .. import callbacks, outbound
from ..signature import twilio_webhook
from .http import TwilioParams
from .openapi import (
    CALL_SID_QUERY,
    ConferenceForm,
    GatherForm,
    StatusForm,
    VoiceForm,
    WebhookOperation,
    documented,
    query,
)
from .validation import reject_unknown_enums
from .views import CALLBACK_FIELDS, EMPTY_TWIML, _callback_error

OUTBOUND_STATUS = WebhookOperation(
    summary="The customer's leg of a click-to-dial call changed status",
    description="Status callbacks of the customer dialled into the agent's conference: answered starts talk time, "
    "the end wraps the agent up (or frees them when the customer never answered).",
    form=StatusForm,
    query_parameters=[query("agentLeg", "The agent's CallSid (the softphone's leg).", required=True)],
)
OUTBOUND_CONFERENCE = WebhookOperation(
    summary="A participant left a click-to-dial call's conference",
    description="The agent's conference reports participants leaving: the agent leaving before the customer "
    "answered frees the agent and cancels the customer's ringing leg.",
    form=ConferenceForm,
    query_parameters=[query("agentLeg", "The agent's CallSid (the softphone's leg).", required=True)],
)
RECORDING_CONSENT = WebhookOperation(
    summary="The recording consent announced to a dialled customer",
    description="The participant announcement a customer of a click-to-dial call or a callback hears when they "
    "answer on a line that records: the line's consent message, as an inbound caller hears it.",
    form=VoiceForm,
    query_parameters=[query("callSid", "The customer's CallSid.", required=True)],
)
CALLBACK_OFFER = WebhookOperation(
    summary="Offer a waiting caller a callback",
    description="Where a caller who waited long enough is redirected: 'press 1 to be called back'.",
    form=VoiceForm,
    query_parameters=[CALL_SID_QUERY],
)
CALLBACK_CHOICE = WebhookOperation(
    summary="The caller's answer to the callback offer",
    description="1: the call ends and a callback keeps their place; anything else: back to waiting in the conference.",
    form=GatherForm,
    query_parameters=[CALL_SID_QUERY],
)
CALLBACK_LEG = WebhookOperation(
    summary="A leg of a queued callback changed status",
    description="The agent rung first (answered: the customer is dialled) or the customer (answered: done; no "
    "answer: tried again after the config's delay, or failed after the last attempt).",
    form=StatusForm,
    query_parameters=[
        query("callback", "The callback's id.", required=True),
        query("leg", "Which leg this is.", required=True, enum=["agent", "customer"]),
    ],
)


@documented(OUTBOUND_STATUS)
@twilio_webhook(on_error=_callback_error)
@reject_unknown_enums
def outbound_status(request: HttpRequest) -> str:
    """Status changes of the customer's leg of a click-to-dial call (`?agentLeg=<the agent's CallSid>`)."""
    params = TwilioParams(request)
    outbound.customer_status(
        request,
        agent_leg_sid=request.GET.get("agentLeg", ""),
        customer_leg_sid=params.get("CallSid"),
        status=params.get("CallStatus"),
        sequence_number=params.get_int("SequenceNumber"),
        timestamp=params.get_time("Timestamp"),
        data=params.as_dict(CALLBACK_FIELDS),
    )
    return EMPTY_TWIML


@documented(OUTBOUND_CONFERENCE)
@twilio_webhook(on_error=_callback_error)
@reject_unknown_enums
def outbound_conference(request: HttpRequest) -> str:
    """Events of a click-to-dial call's conference (`?agentLeg=<the agent's CallSid>`): only leaving matters."""
    params = TwilioParams(request)
    if params.get("StatusCallbackEvent") == "participant-leave":
        outbound.agent_left(agent_leg_sid=request.GET.get("agentLeg", ""), leaving_leg_sid=params.get("CallSid"))
    return EMPTY_TWIML


@documented(RECORDING_CONSENT)
@twilio_webhook
@reject_unknown_enums
def recording_consent(request: HttpRequest) -> str:
    """What a dialled customer hears when they answer on a line that records (the announcement's TwiML)."""
    return outbound.recording_consent_twiml(call_sid=request.GET.get("callSid", ""))


def _callback_id(request: HttpRequest) -> int:
    value = request.GET.get("callback", "")
    return int(value) if value.isdigit() and len(value) <= 18 else 0


@documented(CALLBACK_OFFER)
@twilio_webhook
@reject_unknown_enums
def callback_offer(request: HttpRequest) -> str:
    """Where a caller who waited long enough is redirected: "press 1 to be called back"."""
    return callbacks.offer_twiml(request, call_sid=request.GET.get("callSid", ""))


@documented(CALLBACK_CHOICE)
@twilio_webhook
@reject_unknown_enums
def callback_choice(request: HttpRequest) -> str:
    """The caller's answer to the offer: 1 ends their call with a callback; anything else, back to waiting."""
    params = TwilioParams(request)
    return callbacks.choice_twiml(request, call_sid=request.GET.get("callSid", ""), digits=params.get("Digits"))


@documented(CALLBACK_LEG)
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
            request,
            callback_id=callback_id,
            leg_sid=leg_sid,
            status=status,
            sequence_number=params.get_int("SequenceNumber"),
            timestamp=params.get_time("Timestamp"),
            data=params.as_dict(CALLBACK_FIELDS),
        )
    return EMPTY_TWIML
