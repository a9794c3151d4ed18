"""The Twilio-facing URLs in the OpenAPI document (issue 13 item 1): what Twilio posts, what we answer.

The webhooks are plain Django views (Twilio posts forms and wants TwiML back, none of DRF's parsing, auth or
rendering applies), and drf-spectacular only documents DRF views. `@documented(...)` bridges that without
touching how a webhook runs: it hangs a schema-only APIView (`view.cls`, never dispatched to) on the view, with
`extend_schema` on its methods, so the schema generator finds the URL and documents it like any other endpoint.

Each operation documents:
- the form body with Twilio's parameter names (`CallSid`, `From`, `CallStatus`, ...), required as Twilio always
  sends them, and the specification's camelCase names (`callSid`, `from`, ...) that the views accept instead;
- the query parameters our own TwiML puts on the URL (`callSid`, `agent`, `kind`), signed along with it;
- the required `X-Twilio-Signature` header;
- the answers: TwiML as `text/xml`, or `{"data": "<TwiML>"}` for `Accept: application/json`; 400 for an unknown
  enum value, 403 for a missing or wrong signature and 503 when the database cannot be reached, each as an
  empty TwiML document for Twilio or the error envelope for a JSON client.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.views import APIView

from voiceconfig.api.schema import ErrorSerializer, ValidationErrorSerializer
from voiceconfig.models import CallStatus

FORM = "application/x-www-form-urlencoded"
TWIML = "text/xml"
JSON = "application/json"
TAG = "Twilio webhooks"

# Twilio's values (not ours): a forwarded leg's <Dial> outcome, a conference event, a recording's state.
DIAL_CALL_STATUSES = ["completed", "answered", "busy", "no-answer", "failed", "canceled"]
CONFERENCE_EVENTS = [
    "conference-start",
    "conference-end",
    "participant-join",
    "participant-leave",
    "participant-mute",
    "participant-unmute",
    "participant-hold",
    "participant-unhold",
    "participant-modify",
    "participant-speech-start",
    "participant-speech-stop",
    "announcement-end",
    "announcement-fail",
]
RECORDING_STATUSES = ["in-progress", "completed", "absent", "failed"]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def _text(help_text: str, *, required: bool = False) -> serializers.CharField:
    return serializers.CharField(required=required, allow_blank=not required, help_text=help_text)


def _choice(choices: Sequence, help_text: str, *, required: bool = False) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=required, help_text=help_text)


def _spec_name(twilio_name: str) -> str:
    return f"The specification's name for `{twilio_name}`, read when `{twilio_name}` is absent."


def _form(name: str, doc: str, fields: dict[str, serializers.Field]) -> type[serializers.Serializer]:
    """A serializer whose field names are spelled exactly as on the wire (`CallSid`, `from`): never instantiated."""
    return type(name, (serializers.Serializer,), {"__doc__": doc, **fields})


# --- what Twilio posts -----------------------------------------------------------------------------------

CALL_FIELDS: dict[str, serializers.Field] = {
    "AccountSid": _text("Your Twilio account (AC + 32 hex digits).", required=True),
    "CallSid": _text("The call's SID (CA + 32 hex digits): which call this request is about.", required=True),
    "From": _text("The caller: an E.164 number or `client:<identity>`.", required=True),
    "To": _text("The number (or client) called.", required=True),
    "CallStatus": _choice(CallStatus.choices, "The call's status; any other value is a 400.", required=True),
    "ApiVersion": _text("Twilio's API version, 2010-04-01.", required=True),
    "Direction": _text("inbound, outbound-api or outbound-dial.", required=True),
    "Called": _text("Same as To."),
    "Caller": _text("Same as From."),
    "ForwardedFrom": _text("The number that forwarded the call, when the carrier says."),
    "CallerName": _text("The caller's CNAM name, when looked up."),
    "ParentCallSid": _text("The call that created this one (a <Dial> or conference leg)."),
    "CallToken": _text("A token to forward the call with the caller's number."),
    "callSid": _text(_spec_name("CallSid")),
    "from": _text(_spec_name("From")),
    "to": _text(_spec_name("To")),
    "callStatus": _choice(CallStatus.choices, _spec_name("CallStatus")),
}

PROGRESS_FIELDS: dict[str, serializers.Field] = {
    "SequenceNumber": _text("The order of this callback among the call's callbacks (0, 1, 2, ...)."),
    "Timestamp": _text("When the event happened (RFC 2822)."),
    "CallbackSource": _text("call-progress-events."),
    "CallDuration": _text("Seconds the call lasted (on completed)."),
    "Duration": _text("Minutes billed (on completed)."),
    "SipResponseCode": _text("The SIP code of a call that did not connect."),
    "ErrorCode": _text("Twilio's error code, when the call failed."),
}

VoiceForm = _form("TwilioVoice", "What Twilio posts when a call comes in (and on each TwiML fetch).", CALL_FIELDS)
GatherForm = _form(
    "TwilioGather",
    "The caller's answer to the IVR menu (<Gather> action).",
    {
        **CALL_FIELDS,
        "Digits": _text("The keys pressed, without the finish key; empty on silence or speech."),
        "FinishedOnKey": _text(
            "The key that ended the entry (# by default). With no Digits: the menu is read again, not counted "
            "as a wrong attempt; when an option uses that key, it is the choice."
        ),
        "SpeechResult": _text("What the caller said, transcribed."),
        "Confidence": _text("Confidence of SpeechResult, 0.0 to 1.0."),
        "msg": _text("Gather End."),
        "digits": _text(_spec_name("Digits")),
        "speechResult": _text(_spec_name("SpeechResult")),
        "finishedOnKey": _text(_spec_name("FinishedOnKey")),
    },
)
StatusForm = _form(
    "TwilioStatusCallback",
    "A status change of a call leg (call progress events).",
    {**CALL_FIELDS, **PROGRESS_FIELDS},
)
FallbackForm = _form(
    "TwilioFallback",
    "What Twilio posts to the fallback URL when the primary URL failed.",
    {
        **CALL_FIELDS,
        "ErrorCode": _text("Why the primary URL failed (e.g. 11200 HTTP retrieval failure)."),
        "ErrorUrl": _text("The URL that failed."),
    },
)
ConferenceForm = _form(
    "TwilioConferenceCallback",
    "An event of the call's conference.",
    {
        "AccountSid": _text("Your Twilio account.", required=True),
        "ConferenceSid": _text("The conference's SID (CF + 32 hex digits).", required=True),
        "FriendlyName": _text("The conference's name (`call-<CallSid>`).", required=True),
        "StatusCallbackEvent": _choice(CONFERENCE_EVENTS, "What happened.", required=True),
        "SequenceNumber": _text("The order of this event in the conference.", required=True),
        "Timestamp": _text("When it happened (RFC 2822).", required=True),
        "CallSid": _text("The participant's leg, on participant events."),
        "ParticipantLabel": _text("The participant's label (`caller`, `agent-<id>`, ...)."),
        "Hold": _text("true or false."),
        "Muted": _text("true or false."),
        "Coaching": _text("true or false."),
        "EndConferenceOnExit": _text("true or false."),
        "StartConferenceOnEnter": _text("true or false."),
        "ReasonConferenceEnded": _text("Why the conference ended."),
        "CallSidEndingConference": _text("The leg whose leaving ended it."),
        "Reason": _text("A sentence about the event."),
    },
)
RecordingForm = _form(
    "TwilioRecording",
    "A <Record> action (the voicemail) or a recording status callback.",
    {
        "AccountSid": _text("Your Twilio account.", required=True),
        "CallSid": _text("The recorded call.", required=True),
        "RecordingSid": _text("The recording's SID (RE + 32 hex digits).", required=True),
        "RecordingUrl": _text("Where the recording is (add .mp3 or .wav).", required=True),
        "RecordingDuration": _text("Seconds recorded."),
        "RecordingStatus": _choice(RECORDING_STATUSES, "The recording's state (status callbacks)."),
        "RecordingSource": _text("RecordVerb, DialVerb, Conference, ..."),
        "RecordingChannels": _text("1 or 2."),
        "RecordingStartTime": _text("When recording started (RFC 2822)."),
        "RecordingTrack": _text("inbound, outbound or both."),
        "ErrorCode": _text("Twilio's error code when the recording failed (0 otherwise)."),
        "Digits": _text("The key that ended a <Record> (hangup when the caller hung up)."),
        "CallStatus": _choice(CallStatus.choices, "The caller's status (on a <Record> action); any other is a 400."),
        "From": _text("The caller (on a <Record> action)."),
        "To": _text("The number called (on a <Record> action)."),
        "callSid": _text(_spec_name("CallSid")),
        "callStatus": _choice(CallStatus.choices, _spec_name("CallStatus")),
    },
)
DialForm = _form(
    "TwilioDialAction",
    "The outcome of a <Dial> to an outside number (after-hours or IVR forwarding).",
    {
        **CALL_FIELDS,
        "DialCallStatus": _choice(DIAL_CALL_STATUSES, "The forwarded leg's outcome."),
        "DialCallSid": _text("The forwarded leg's SID."),
        "DialCallDuration": _text("Seconds the forwarded leg lasted."),
        "DialBridged": _text("true when the legs were connected."),
    },
)


# --- what we answer --------------------------------------------------------------------------------------


class TwimlEnvelopeSerializer(serializers.Serializer):
    """The specification's JSON answer, for a client that asks `Accept: application/json`."""

    data = serializers.CharField(help_text="The TwiML document Twilio would get as text/xml.")


TWIML_EXAMPLE = OpenApiExample(
    "TwiML",
    value='<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello!</Say></Response>',
    media_type=TWIML,
    response_only=True,
    status_codes=["200"],
)


def _both(code: int, description: str, envelope: type[serializers.Serializer]) -> dict:
    """One answer in both forms: TwiML for Twilio, the error envelope for a client that asks for JSON."""
    return {
        (code, TWIML): OpenApiResponse(response=OpenApiTypes.STR, description=description),
        (code, JSON): OpenApiResponse(response=envelope, description=description),
    }


def _responses(*, enum_checked: bool) -> dict:
    responses = {
        (200, TWIML): OpenApiResponse(
            response=OpenApiTypes.STR,
            description='TwiML, what the call does next (or {"data": "<TwiML>"} for Accept: application/json).',
            examples=[TWIML_EXAMPLE],
        ),
        (200, JSON): OpenApiResponse(
            response=TwimlEnvelopeSerializer,
            description='TwiML, what the call does next (or {"data": "<TwiML>"} for Accept: application/json).',
        ),
    }
    if enum_checked:
        responses |= _both(
            400,
            "An enum field (CallStatus, or the spec's callStatus) holds a value Twilio never sends; nothing was "
            f"stored. Twilio gets `{EMPTY_TWIML}`; a JSON client the envelope with `validation_error` and "
            '`details` {"callStatus": ["..."]}.',
            ValidationErrorSerializer,
        )
    responses |= _both(
        403,
        f"The X-Twilio-Signature header is missing or wrong. Twilio gets `{EMPTY_TWIML}`; a JSON client the "
        "envelope with `invalid_signature`.",
        ErrorSerializer,
    )
    responses |= _both(
        503,
        "The database cannot be reached: nothing was stored. Twilio retries a callback, or asks the number's "
        "fallback URL for the call flow.",
        ErrorSerializer,
    )
    return responses


SIGNATURE = OpenApiParameter(
    "X-Twilio-Signature",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="Twilio's HMAC-SHA1 (base64) of the full URL and the sorted form fields, keyed with the account's "
    "auth token. Missing or wrong: 403.",
)


def query(name: str, description: str, *, required: bool = False, enum: Sequence[str] | None = None):
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=required, description=description, enum=enum
    )


CALL_SID_QUERY = query("callSid", "The caller's CallSid, put on the URL by our own TwiML (signed with it).")


# --- the bridge to drf-spectacular -----------------------------------------------------------------------


class _TwimlRenderer(BaseRenderer):
    media_type = TWIML
    format = "xml"


class WebhookSchemaView(APIView):
    """Schema-only stand-in for a webhook: never dispatched to (the Django view answers every request)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    renderer_classes = [_TwimlRenderer]  # the envelope AutoSchema adds to JSON views does not apply here


def _operation(**schema) -> Callable:
    def handler(self, request, *args, **kwargs):  # pragma: no cover - never called
        raise NotImplementedError("schema only")

    return extend_schema(**schema)(handler)


@dataclass(frozen=True)
class WebhookOperation:
    """One Twilio-facing URL's documentation (the constants below, one per view)."""

    summary: str
    description: str
    form: type[serializers.Serializer]
    query_parameters: Sequence[OpenApiParameter] = ()
    get_too: bool = False  # also fetched with GET (a holdUrl)
    enum_checked: bool = True  # refuses unknown enum values with a 400 (validation.py)


def documented(operation: WebhookOperation) -> Callable:
    """Describe a webhook view in the OpenAPI document. Put it above `@twilio_webhook`."""

    def attach(view: Callable) -> Callable:
        name = view.__name__
        common = {
            "summary": operation.summary,
            "description": operation.description,
            "tags": [TAG],
            "responses": _responses(enum_checked=operation.enum_checked),
        }
        parameters = [SIGNATURE, *operation.query_parameters]
        methods = {
            "post": _operation(
                operation_id=f"webhook_{name}", request={FORM: operation.form}, parameters=parameters, **common
            )
        }
        if operation.get_too:
            methods["get"] = _operation(operation_id=f"webhook_{name}_get", parameters=parameters, **common)
        stand_in = type(
            f"{name.title().replace('_', '')}WebhookSchema",
            (WebhookSchemaView,),
            {**methods, "http_method_names": list(methods), "__doc__": operation.description},
        )
        view.cls = stand_in  # what drf-spectacular's endpoint enumerator looks for
        view.initkwargs = {}
        return view

    return attach


# --- the operations ---------------------------------------------------------------------------------------

VOICE = WebhookOperation(
    summary="A call comes in",
    description='Configure on the phone number as "A call comes in" (POST). Answers the greeting, the IVR menu, '
    "the after-hours action or the wait for an agent.",
    form=VoiceForm,
)


GATHER = WebhookOperation(
    summary="The caller's answer to the IVR menu",
    description="The <Gather> action of our menu: a key (Digits), words (SpeechResult), or nothing. The finish key "
    "alone (FinishedOnKey with no Digits) reads the menu again without counting a wrong attempt.",
    form=GatherForm,
    query_parameters=[CALL_SID_QUERY],
)


FALLBACK = WebhookOperation(
    summary="The number's fallback URL",
    description='Configure on the phone number as "Primary handler fails". Answers useful TwiML without the '
    "database; never refuses an enum value (it is the caller's last resort).",
    form=FallbackForm,
    query_parameters=[CALL_SID_QUERY],
    enum_checked=False,
)


STATUS_CALLBACK = WebhookOperation(
    summary="The caller's call status changed",
    description='Configure on the phone number as "Call status changes". Moves the call\'s status forward '
    "(duplicates and late events change nothing); Twilio ignores the (empty) TwiML answer.",
    form=StatusForm,
)


PARTICIPANT_CALLBACK = WebhookOperation(
    summary="A leg we added to the call rang, answered or ended",
    description="Call-progress events of an agent's or transferee's leg (`?callSid=<the caller's>&agent=<id>`).",
    form=StatusForm,
    query_parameters=[
        query("callSid", "The caller's CallSid.", required=True),
        query("agent", "The agent rung on this leg (id), absent for a phone number."),
        query("ringAll", "1 on a leg of a ring-all department: the first such leg to answer gets the caller."),
    ],
)


CONFERENCE_CALLBACK = WebhookOperation(
    summary="An event of the call's conference",
    description="Start, end, join, leave, hold: logged on the call's timeline; the first gives us the conference SID.",
    form=ConferenceForm,
    query_parameters=[query("callSid", "The caller's CallSid.", required=True)],
)


QUEUE_WAIT = WebhookOperation(
    summary="Hold music while the caller waits",
    description="The conference waitUrl (POST) and a requeued caller's holdUrl (GET): hold music, a routing retry "
    "and the maximum-wait check on every fetch.",
    form=VoiceForm,
    query_parameters=[query("callSid", "The waiting caller's CallSid.", required=True)],
    get_too=True,
)


VOICEMAIL = WebhookOperation(
    summary="Record a voicemail",
    description="A caller nobody could take: record a message (or say the unavailable message).",
    form=VoiceForm,
    query_parameters=[CALL_SID_QUERY],
)


RECORDING_CALLBACK = WebhookOperation(
    summary="A recording is ready",
    description="The <Record> action of a voicemail (`kind=voicemail`), or a recording status callback.",
    form=RecordingForm,
    query_parameters=[
        CALL_SID_QUERY,
        query("kind", "voicemail: a voicemail's <Record> action; call: a call recording.", enum=["voicemail", "call"]),
    ],
)


DIAL_CALLBACK = WebhookOperation(
    summary="A forwarded call ended",
    description="The <Dial> action of a forward to an outside number: says so before hanging up if nobody answered.",
    form=DialForm,
    query_parameters=[CALL_SID_QUERY],
)
