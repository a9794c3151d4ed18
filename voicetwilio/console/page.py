"""The agent console: a page served by Django (templates/console/console.html) that logs in with the JWT flow and
drives the Twilio Voice JS SDK, plus the one read it needs that the console API does not offer (transfer targets).

The page itself is public HTML and holds no data: everything it shows comes from the REST API with the agent's
JWT, so it is cached by nobody and works behind any number of web processes.
"""

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from voiceconfig.api.permissions import agent_of
from voiceconfig.calls import available_agents
from voiceconfig.models import AgentStatus, VoiceAgent

SDK_PATH = "vendor/twilio-voice-sdk/twilio.min.js"
SOUND_DIR = "vendor/twilio-voice-sdk/sounds"
# The SDK's sound names and the files scripts/console-assets.mjs writes for them.
SOUND_FILES = {
    "incoming": "incoming",
    "outgoing": "outgoing",
    "disconnect": "disconnect",
    **{f"dtmf{key}": f"dtmf-{key}" for key in "0123456789"},
    "dtmfs": "dtmf-star",
    "dtmfh": "dtmf-hash",
}


def _static_exists(path: str) -> bool:
    if finders.find(path):
        return True
    try:
        return staticfiles_storage.exists(path)
    except Exception:  # a storage that cannot answer (no STATIC_ROOT yet) means not collected
        return False


def heartbeat_interval_seconds() -> int:
    """Often enough that two lost heartbeats in a row still leave the agent online."""
    configured = getattr(settings, "AGENT_HEARTBEAT_INTERVAL_SECONDS", None)
    if configured:
        return int(configured)
    return max(5, settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS // 3)


def console_config() -> dict:
    """Everything the page's script needs: API paths, the SDK and its local sounds, timings."""
    sdk_available = _static_exists(SDK_PATH)
    return {
        "urls": {
            "login": reverse("token-obtain"),
            "refresh": reverse("token-refresh"),
            "verify2fa": reverse("twofactor-verify"),
            "clientToken": reverse("client-tokens"),
            "agents": "/voiceconfig/voiceagents",
            "calls": "/voiceconfig/calls",
            "transferTargets": reverse("console-agents"),
            # {id} is filled in by the page.
            "agentStatus": "/voicetwilio/agent/{id}/status",
            "heartbeats": "/voicetwilio/agent/{id}/heartbeats",
            "callAction": "/voicetwilio/calls/{id}:{action}",
        },
        "sdk": {
            "available": sdk_available,
            "url": static(SDK_PATH) if sdk_available else "",
            "sounds": {name: static(f"{SOUND_DIR}/{file}.wav") for name, file in SOUND_FILES.items()},
        },
        "heartbeatSeconds": heartbeat_interval_seconds(),
        "heartbeatTimeoutSeconds": settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS,
        # A Twilio connection that is not up this long after start-up is reported as unreachable.
        "twilioConnectTimeoutSeconds": 10,
    }


@never_cache
def console_page(request: HttpRequest) -> HttpResponse:
    config = console_config()
    return render(request, "console/console.html", {"console_config": config, "sdk": config["sdk"]})


class TransferTargetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity = serializers.CharField()
    display_name = serializers.CharField()
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    available = serializers.BooleanField(
        help_text="Can take a call now (available or wrap-up over, console alive, no live call): a transfer can reach "
        "them."
    )


class TransferTargetListSerializer(serializers.Serializer):
    results = TransferTargetSerializer(many=True)


class TransferTargetsView(APIView):
    """Agents a call can be passed to: every other agent, the available ones first.

    The voice-agent API shows an agent only their own record; the console needs the names and states of
    colleagues (nothing more) to offer an agent-to-agent transfer.
    """

    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        tags=["agent console"],
        summary="List transfer targets",
        description="Other agents with their status; `available` ones can receive a transfer now.",
        responses={200: TransferTargetListSerializer},
    )
    def get(self, request: Request) -> Response:
        me = agent_of(request.user)
        if me is None and not request.user.is_staff:
            return Response({"results": []})
        fields = ["id", "identity", "display_name", "status"]
        agents = VoiceAgent.objects.only(*fields).order_by("display_name", "id")
        if me is not None:
            agents = agents.exclude(pk=me.pk)
        # The one rule routing and a transfer use: free, console alive, no live call.
        can_take_a_call = set(available_agents(line=None).values_list("id", flat=True))
        results = [
            {
                "id": agent.pk,
                "identity": agent.identity,
                "display_name": str(agent),
                "status": agent.status,
                "available": agent.pk in can_take_a_call,
            }
            for agent in agents[:500]
        ]
        results.sort(key=lambda row: not row["available"])
        return Response(TransferTargetListSerializer({"results": results}).data)
