"""The agent console API: softphone tokens, call control, agent status and heartbeats, number search.

Views only parse, authorise, call one service and render. Only the call's agent or staff act on a call, and
an agent acts only on their own status: anything else answers 404, as if it did not exist.
"""

from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from voiceconfig import calls as call_services
from voiceconfig.api.errors import Conflict
from voiceconfig.api.permissions import IsStaff, agent_of
from voiceconfig.api.twofactor import PRELOGIN_QUERY_PARAMETERS, PreLoginQueryStep, no_store, token_or_verified
from voiceconfig.models import Call, VoiceAgent
from voiceconfig.services import StateConflict

from .. import callcontrol, gateway, tokens
from . import presence
from . import serializers as s
from . import state as console_state

ERRORS = {
    400: OpenApiResponse(description="Invalid input: `{error, message, details}`"),
    401: OpenApiResponse(description="Not authenticated"),
    404: OpenApiResponse(description="No such call or agent, or not yours"),
    409: OpenApiResponse(description="The call's or agent's current state forbids the action"),
    502: OpenApiResponse(description="Twilio refused or failed: `{error, message, twilioCode, twilioStatus}`"),
    503: OpenApiResponse(description="Twilio is not configured"),
}


def _errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in codes}


def agent_for(request: Request, agent_id: int | str) -> VoiceAgent:
    """The agent `agent_id`: staff may name anyone, an agent only themselves (others are 404)."""
    user = request.user
    if not user.is_staff:
        own = agent_of(user)
        if own is None or str(own.pk) != str(agent_id):
            raise exceptions.NotFound(f"No voice agent {agent_id} of yours.")
        return own
    agent = VoiceAgent.objects.filter(pk=agent_id).first()
    if agent is None:
        raise exceptions.NotFound(f"No voice agent {agent_id}.")
    return agent


def conflict(exc: StateConflict) -> Conflict:
    return Conflict(str(exc))


# --- client tokens -----------------------------------------------------------------------------


class _ClientTokenBase(APIView):
    def issue(self, request: Request, data) -> Response:
        params = s.ClientTokenRequestSerializer(data=data)
        params.is_valid(raise_exception=True)
        requested = params.validated_data.get("agent")
        if requested is not None:
            agent = agent_for(request, requested)
        else:
            agent = agent_of(request.user)
            if agent is None:
                raise exceptions.ValidationError(
                    {"agent": "You are not a voice agent; staff name the agent with `agent` (its id)."}
                )
        issued = tokens.client_token_create(agent=agent)
        return no_store(Response(s.ClientTokenSerializer(issued).data))


TOKEN_DESCRIPTION = (
    "A Twilio Access Token (JWT) with a VoiceGrant for the agent's client identity: incoming calls allowed, "
    "outgoing calls through TWILIO_TWIML_APP_SID when it is set. It lasts TWILIO_TOKEN_TTL_SECONDS (default "
    "3600). An agent gets their own token; staff may pass `agent` (an agent id)."
)


class ClientTokenCreateView(_ClientTokenBase):
    http_method_names = ["post", "options"]

    @extend_schema(
        tags=["agent console"],
        summary="Create a softphone token",
        operation_id="voicetwilio_tokens_create",
        description=TOKEN_DESCRIPTION,
        request=s.ClientTokenRequestSerializer,
        responses={200: s.ClientTokenSerializer, **_errors(400, 401, 404, 503)},
    )
    def post(self, request: Request) -> Response:
        return self.issue(request, request.data)


class ClientTokenView(PreLoginQueryStep, _ClientTokenBase):
    """With `preLoginToken` in the query, the spec's form of the two-factor verify step (voiceconfig.api.twofactor)."""

    http_method_names = ["get", "head", "options"]

    @extend_schema(
        tags=["agent console"],
        summary="Get a softphone token (or, with preLoginToken, verify the two-factor code)",
        operation_id="voicetwilio_token_retrieve",
        description=TOKEN_DESCRIPTION,
        parameters=[
            OpenApiParameter("agent", int, description="Staff only: the agent id to issue the token for."),
            *PRELOGIN_QUERY_PARAMETERS,
        ],
        responses={200: token_or_verified(s.ClientTokenSerializer), **_errors(400, 401, 404, 503)},
    )
    def get(self, request: Request) -> Response:
        return self.issue(request, request.query_params)


# --- call control ------------------------------------------------------------------------------

CALL_ID_PARAMETER = OpenApiParameter(
    "id",
    str,
    OpenApiParameter.PATH,
    description="Our call id, or the caller's Twilio CallSid (CA + 32 hex digits).",
)


class _CallActionView(APIView):
    http_method_names = ["post", "options"]

    def get_call(self, request: Request, ref: str) -> Call:
        calls = Call.objects.all()
        call = calls.filter(pk=int(ref)).first() if ref.isdigit() else calls.filter(call_sid=ref).first()
        if call is not None and not request.user.is_staff:
            own = agent_of(request.user)
            # After a warm transfer the transferring agent, still in the conference, keeps control too.
            if own is None or (call.agent_id != own.pk and call_services.warm_transferrer_of(call) != own.pk):
                call = None
        if call is None:
            raise exceptions.NotFound(f"No call {ref} of yours.")
        return call

    def parse(self, request: Request, call: Call, serializer_class) -> dict:
        params = serializer_class(data=request.data)
        params.is_valid(raise_exception=True)
        given = params.validated_data.get("call_sid")
        if given and given != call.call_sid:
            raise exceptions.ValidationError({"call_sid": f"{given} is not the CallSid of call {call.pk}."})
        return params.validated_data

    def hold_action(self, request: Request, id: str, action: Callable[..., callcontrol.HoldOutcome]) -> Response:
        """Hold and resume share everything but the callcontrol function they call."""
        call = self.get_call(request, id)
        self.parse(request, call, s.CallActionRequestSerializer)
        try:
            outcome = action(call=call, user=request.user)
        except StateConflict as exc:
            raise conflict(exc) from exc
        return Response(s.HoldResultSerializer(_hold_result(outcome)).data)


HOLD_DESCRIPTION = (
    "Puts the caller on hold with the line's hold music (its config's holdMusicUrl); the agent stays in the "
    "conference. Holding a call already on hold changes nothing and answers 200 with `changed: false`. "
    "Only the call's agent or staff; the call must be live with its agent connected (else 409)."
)


class CallHoldView(_CallActionView):
    @extend_schema(
        tags=["agent console"],
        summary="Put a call on hold",
        operation_id="voicetwilio_calls_onhold",
        description=HOLD_DESCRIPTION,
        parameters=[CALL_ID_PARAMETER],
        request=s.CallActionRequestSerializer,
        responses={200: s.HoldResultSerializer, **_errors(400, 401, 404, 409, 502, 503)},
    )
    def post(self, request: Request, id: str) -> Response:
        return self.hold_action(request, id, callcontrol.call_hold)


class CallResumeView(_CallActionView):
    @extend_schema(
        tags=["agent console"],
        summary="Resume a held call",
        operation_id="voicetwilio_calls_resume",
        description=(
            "Takes the caller off hold; the time spent on hold is added to the call's `holdSeconds`. Resuming a "
            "call that is not on hold changes nothing and answers 200 with `changed: false`."
        ),
        parameters=[CALL_ID_PARAMETER],
        request=s.CallActionRequestSerializer,
        responses={200: s.HoldResultSerializer, **_errors(400, 401, 404, 409, 502, 503)},
    )
    def post(self, request: Request, id: str) -> Response:
        return self.hold_action(request, id, callcontrol.call_resume)


def _hold_result(outcome: callcontrol.HoldOutcome) -> dict:
    return {**_call_state(outcome.call), "changed": outcome.changed}


def _call_state(call: Call) -> dict:
    return {
        "id": call.pk,
        "call_sid": call.call_sid,
        "status": call.status,
        "agent_id": call.agent_id,
        "on_hold": call.on_hold,
        "hold_seconds": call.hold_seconds,
    }


class CallTransferView(_CallActionView):
    @extend_schema(
        tags=["agent console"],
        summary="Transfer a call",
        operation_id="voicetwilio_calls_transfer",
        description=(
            "Adds the new party to the call's conference: an outside number (`type: phonenumber`, E.164) or another "
            "agent's softphone (`type: client`; the agent must be available, and is reserved as routing does). "
            "`mode: cold` (default): the agent leaves at once and the new party takes over. `mode: warm`: the agent "
            "stays to introduce the caller and leaves by hanging up. A held caller is taken off hold by a cold "
            "transfer. Each transfer is a row (the call's `transfers`, with its state: requested, ringing, connected, "
            "completed, unanswered or failed) and a CallLog row (`event: transfer`) naming who passed the call to whom."
        ),
        parameters=[CALL_ID_PARAMETER],
        request=s.TransferRequestSerializer,
        responses={200: s.TransferResultSerializer, **_errors(400, 401, 404, 409, 502, 503)},
        examples=[
            OpenApiExample("Cold transfer to a number", {"type": "phonenumber", "to": "+14155550123"}),
            OpenApiExample("Warm transfer to an agent", {"type": "client", "to": "bob", "mode": "warm"}),
        ],
    )
    def post(self, request: Request, id: str) -> Response:
        call = self.get_call(request, id)
        params = self.parse(request, call, s.TransferRequestSerializer)
        try:
            outcome = callcontrol.call_transfer(
                call=call,
                kind=params["type"],
                to=params["to"],
                mode=params["mode"],
                user=request.user,
                request=request,
            )
        except callcontrol.InvalidDestination as exc:
            raise exceptions.ValidationError({"to": str(exc)}) from exc
        except StateConflict as exc:
            raise conflict(exc) from exc
        return Response(s.TransferResultSerializer({**_call_state(outcome.call), "transfer": outcome.summary}).data)


# --- agent status and heartbeats ---------------------------------------------------------------

AGENT_ID_PARAMETER = OpenApiParameter("agentid", int, OpenApiParameter.PATH, description="The voice agent's id.")


class AgentStatusView(APIView):
    http_method_names = ["post", "options"]

    @extend_schema(
        tags=["agent console"],
        summary="Set an agent's status",
        operation_id="voicetwilio_agent_status",
        description=(
            'Send the spec\'s `{"available": true|false}` or `{"status": "available"|"unavailable"|"offline"}`. '
            "An agent sets only their own status, staff anyone's. The platform sets ringing, in_call and wrap_up "
            "itself: while the agent has a live call the status cannot be changed (409); choosing available ends "
            "a wrap-up early. Becoming available offers the agent the longest-waiting queued call at once "
            "(`offeredCall`)."
        ),
        parameters=[AGENT_ID_PARAMETER],
        request=s.AgentStatusRequestSerializer,
        responses={200: s.AgentStatusResultSerializer, **_errors(400, 401, 404, 409)},
    )
    def post(self, request: Request, agentid: str) -> Response:
        agent = agent_for(request, agentid)
        params = s.AgentStatusRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            outcome = presence.agent_change_status(
                agent=agent,
                status=params.validated_data["status"],
                request=request,
            )
        except StateConflict as exc:
            raise conflict(exc) from exc
        data = {**presence.presence(outcome.agent), "offered_call": outcome.offered_call_id}
        return Response(s.AgentStatusResultSerializer(data).data)


class AgentHeartbeatView(APIView):
    http_method_names = ["post", "options"]

    @extend_schema(
        tags=["agent console"],
        summary="Record an agent heartbeat",
        operation_id="voicetwilio_agent_heartbeats",
        description=(
            "The console calls this every 1.5 s while a call rings for the agent (and for 30 s after they become "
            "available), every 5 s while available, in a call or in wrap-up, and every 30 s or so otherwise "
            "(docs/console.md). An agent whose last heartbeat is older than AGENT_HEARTBEAT_TIMEOUT_SECONDS "
            "(default 90) counts as offline and is never routed to; the next heartbeat brings them back (an "
            "available agent coming back is offered the longest-waiting queued call). The stored status is not "
            "changed. No body. The answer carries the agent's own `call` (ringing or connected; null when none), "
            "so the console shows it even when the softphone cannot reach Twilio, and `serverTime`."
        ),
        parameters=[AGENT_ID_PARAMETER],
        request=None,
        responses={200: console_state.HeartbeatResultSerializer, **_errors(401, 404)},
    )
    def post(self, request: Request, agentid: str) -> Response:
        agent = agent_for(request, agentid)
        outcome = presence.agent_heartbeat(agent=agent, request=request)
        data = {**presence.presence(outcome.agent), "offered_call": outcome.offered_call_id}
        return Response(console_state.heartbeat_answer(data, outcome.agent))


# --- phone number search (decision 11) ---------------------------------------------------------


class PhoneNumberSearchView(APIView):
    """GET /voiceconfig/phonenumbers: numbers Twilio has for sale, for the admin's number picker."""

    permission_classes = [IsStaff]
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        tags=["phonenumbers"],
        summary="Search phone numbers for sale",
        operation_id="voiceconfig_phonenumbers_list",
        description=(
            "Voice-capable numbers Twilio has for sale in a country. Staff only. `countryCode` (the spec's "
            "`CountryCode` works too) is a two-letter ISO 3166-1 code; an unknown one is a 400. A country where "
            "Twilio sells no numbers answers an empty list."
        ),
        parameters=[
            OpenApiParameter("countryCode", str, required=True, description="ISO 3166-1 alpha-2, e.g. US"),
            OpenApiParameter("CountryCode", str, description="The spec's spelling of countryCode"),
            OpenApiParameter("areaCode", str, description="Digits, e.g. 415"),
            OpenApiParameter("contains", str, description="Digits/letters the number contains; * is a wildcard"),
            OpenApiParameter("type", str, enum=[value for value, _ in s.NUMBER_TYPES], description="Default local"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1-100, default 20"),
        ],
        responses={200: s.PhoneNumberListSerializer, **_errors(400, 401, 502, 503)},
    )
    def get(self, request: Request) -> Response:
        query = request.query_params
        raw = {
            "country_code": query.get("countryCode") or query.get("CountryCode") or query.get("country_code"),
            "area_code": query.get("areaCode") or query.get("AreaCode"),
            "contains": query.get("contains") or query.get("Contains"),
            "type": query.get("type") or query.get("Type"),
            "limit": query.get("limit"),
        }
        params = s.PhoneNumberSearchSerializer(data={key: value for key, value in raw.items() if value is not None})
        params.is_valid(raise_exception=True)
        found = gateway.search_available_numbers(
            country_code=params.validated_data["country_code"],
            kind=params.validated_data["type"],
            area_code=params.validated_data.get("area_code", ""),
            contains=params.validated_data.get("contains", ""),
            limit=params.validated_data["limit"],
        )
        return Response(s.PhoneNumberListSerializer({"phone_number_list": found}).data)
