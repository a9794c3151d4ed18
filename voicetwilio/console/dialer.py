"""The console's dialer (issue 19): the lines an agent may call from, and the guard asked before dialling.

The softphone then places the call with `Device.connect({params: {To, line, returns}})`; the voice request runs
the same guard again (voicetwilio/outbound.py), so this check only gives the agent the refusal before the call.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from voiceconfig.api.permissions import agent_of
from voiceconfig.calls import outbound as outbound_services
from voiceconfig.models import VoiceAgent


class DialLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phoneNumber = serializers.CharField()  # noqa: N815 (the API's camelCase name)


def own_agent(request: Request) -> VoiceAgent:
    agent = agent_of(request.user)
    if agent is None:
        raise exceptions.PermissionDenied("Only agents dial out from the console.")
    return agent


class DialCheckRequest(serializers.Serializer):
    to = serializers.CharField(max_length=32, help_text="The number to dial, E.164 (+14155550142).")
    line = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="The line to call from.")


class DialLinesView(APIView):
    http_method_names = ["get", "options"]

    @extend_schema(
        tags=["agent console"],
        responses={200: inline_serializer("DialLines", {"lines": DialLineSerializer(many=True)})},
    )
    def get(self, request: Request) -> Response:
        """The lines whose number the agent may call from (pick one when there are several)."""
        lines = outbound_services.lines_of(own_agent(request))
        return Response(
            {"lines": [{"id": line.pk, "name": line.name, "phoneNumber": line.phone_number} for line in lines]}
        )


class DialCheckView(APIView):
    http_method_names = ["post", "options"]

    @extend_schema(
        tags=["agent console"],
        request=DialCheckRequest,
        responses={
            200: inline_serializer("DialCheck", {"to": serializers.CharField(), "line": DialLineSerializer()}),
            400: OpenApiResponse(description="Refused by the toll-fraud guard: `{error: dial_refused, message}`"),
        },
    )
    def post(self, request: Request) -> Response:
        """Ask the toll-fraud guard before dialling: E.164, allowed country, no premium prefix, hourly limit."""
        params = DialCheckRequest(data=request.data)
        params.is_valid(raise_exception=True)
        agent = own_agent(request)
        number = params.validated_data["to"].strip()
        try:
            line = outbound_services.choose_line(agent=agent, line_id=params.validated_data.get("line"))
            outbound_services.check_number(number=number, line=line)
            outbound_services.check_hourly_limit(agent=agent, line=line)
        except outbound_services.DialRefused as exc:
            return Response({"error": "dial_refused", "message": exc.message}, status=400)
        return Response({"to": number, "line": {"id": line.pk, "name": line.name, "phoneNumber": line.phone_number}})
