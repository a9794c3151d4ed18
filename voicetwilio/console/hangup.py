"""POST /voicetwilio/calls/{id}:hangup: end a call from the console when this browser has no leg on it (issue 12)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .. import hangup
from . import serializers as s
from .views import CALL_ID_PARAMETER, _call_state, _CallActionView, _errors


class HangupResultSerializer(s.CallStateSerializer):
    changed = serializers.BooleanField(
        help_text="False when the call had already ended (hung up before, or by the caller): nothing was sent to "
        "Twilio and nothing changed."
    )


HANGUP_DESCRIPTION = (
    "Ends the call at Twilio: the caller's leg, then the conference with whoever is still in it (the agent's leg, a "
    "transfer's leg). The call is recorded as completed and its agent goes to wrap-up, as when the caller hangs up. "
    "For the console's Hang up when the browser has no softphone connection to the call (answered in another tab, "
    "or before a reload). Idempotent: hanging up a call that has already ended (twice, or after the caller left) "
    "asks Twilio nothing and answers 200 with the call's state and `changed: false`. Only the call's agent (or the "
    "agent who passed it on with a warm transfer and is still in it) or staff; others get 404. If Twilio refuses "
    "to end the caller's leg the answer is 502 and nothing is recorded: try again."
)


class CallHangupView(_CallActionView):
    @extend_schema(
        tags=["agent console"],
        summary="Hang up a call",
        operation_id="voicetwilio_calls_hangup",
        description=HANGUP_DESCRIPTION,
        parameters=[CALL_ID_PARAMETER],
        request=s.CallActionRequestSerializer,
        responses={200: HangupResultSerializer, **_errors(400, 401, 404, 502, 503)},
    )
    def post(self, request: Request, id: str) -> Response:
        call = self.get_call(request, id)
        self.parse(request, call, s.CallActionRequestSerializer)
        outcome = hangup.call_hang_up(call=call, user=request.user)
        return Response(HangupResultSerializer({**_call_state(outcome.call), "changed": outcome.changed}).data)
