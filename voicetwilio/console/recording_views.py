"""Recording controls and supervision on a live call (issue 18): `:startrecording`, `:pauserecording`,
`:resumerecording`, `:stoprecording` (the call's agent or staff) and `:monitor` (supervisors).

Same shape as hold and resume (views.py): parse, authorise, call one edge function, render; repeating an action
answers 200 with `changed: false`; a state that forbids it answers 409.
"""

import re

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from voiceconfig import calls as call_services
from voiceconfig.api.errors import Conflict
from voiceconfig.api.permissions import agent_of
from voiceconfig.models import Call, Recording, RecordingState, Supervision, SupervisionMode
from voiceconfig.services import StateConflict

from .. import gateway, recording, supervision
from . import serializers as s
from .views import CALL_ID_PARAMETER, _call_state, _CallActionView, _errors, conflict


class RecordingSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recording_sid = serializers.CharField(help_text="Twilio's RE SID; empty until Twilio has answered.")
    state = serializers.CharField(help_text="requested, in-progress, paused, stopped, completed, absent or failed.")
    pause_count = serializers.IntegerField()
    paused_seconds = serializers.IntegerField(help_text="Seconds paused so far (left out of the audio).")


class RecordingResultSerializer(s.HoldResultSerializer):
    recording = RecordingSummarySerializer()


def recording_summary(row: Recording) -> dict:
    return {
        "id": row.pk,
        "recording_sid": row.recording_sid,
        "state": row.state,
        "pause_count": row.pause_count,
        "paused_seconds": row.paused_seconds,
    }


class _RecordingActionView(_CallActionView):
    action = ""

    def post(self, request: Request, id: str) -> Response:
        call = self.get_call(request, id)
        self.parse(request, call, s.CallActionRequestSerializer)
        try:
            if self.action == "start":
                outcome = recording.call_start_recording(call=call, user=request.user, request=request)
            else:
                outcome = recording.call_change_recording(call=call, action=self.action, user=request.user)
        except StateConflict as exc:
            raise conflict(exc) from exc
        call = Call.objects.get(pk=call.pk)
        data = {**_call_state(call), "changed": outcome.changed, "recording": recording_summary(outcome.recording)}
        return Response(RecordingResultSerializer(data).data)


def _recording_schema(summary: str, description: str, operation: str):
    return extend_schema(
        tags=["agent console"],
        summary=summary,
        operation_id=f"voicetwilio_calls_{operation}",
        description=description
        + " Only the call's agent or staff. Asking again changes nothing and answers 200 with `changed: false`.",
        parameters=[CALL_ID_PARAMETER],
        request=s.CallActionRequestSerializer,
        responses={200: RecordingResultSerializer, **_errors(400, 401, 404, 409, 502, 503)},
    )


class CallStartRecordingView(_RecordingActionView):
    action = "start"

    @_recording_schema(
        "Start recording a call",
        "Records both parties from now on two channels (Twilio's call recording of the caller's leg). 409 when the "
        "call has ended or its line's recordingPolicy is `off`. The caller has heard the line's consent message.",
        "startrecording",
    )
    def post(self, request: Request, id: str) -> Response:
        return super().post(request, id)


class CallPauseRecordingView(_RecordingActionView):
    action = "pause"

    @_recording_schema(
        "Pause a call's recording",
        "Pauses with PauseBehavior=skip: what is said meanwhile (a card number) is left out of the audio, and out of "
        "its duration. 409 when the call is not being recorded.",
        "pauserecording",
    )
    def post(self, request: Request, id: str) -> Response:
        return super().post(request, id)


class CallResumeRecordingView(_RecordingActionView):
    action = "resume"

    @_recording_schema("Resume a paused recording", "409 when the call is not being recorded.", "resumerecording")
    def post(self, request: Request, id: str) -> Response:
        return super().post(request, id)


class CallStopRecordingView(_RecordingActionView):
    action = "stop"

    @_recording_schema(
        "Stop a call's recording",
        "Twilio finishes the recording and reports its duration and audio by the recording status callback. 409 "
        "when the call has never been recorded.",
        "stoprecording",
    )
    def post(self, request: Request, id: str) -> Response:
        return super().post(request, id)


# --- supervision ---------------------------------------------------------------------------------------------------


class MonitorRequestSerializer(s.CallActionRequestSerializer):
    mode = serializers.ChoiceField(
        choices=[*SupervisionMode.choices, ("off", "Leave the call")],
        help_text="listen (muted), whisper (heard by the agent only), barge (heard by everyone), or off (leave).",
    )


class SupervisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    supervisor = serializers.CharField(help_text="The supervisor's user name.")
    identity = serializers.CharField(help_text="The softphone (client identity) rung into the conference.")
    mode = serializers.CharField()
    state = serializers.CharField(help_text="requested (ringing), on, ended or failed.")
    leg_sid = serializers.CharField(help_text="The supervisor's leg in the conference.")


class MonitorResultSerializer(s.CallStateSerializer):
    changed = serializers.BooleanField()
    supervision = SupervisionSerializer()


def supervision_summary(row: Supervision) -> dict:
    return {
        "id": row.pk,
        "supervisor": row.supervisor.get_username(),
        "identity": row.identity,
        "mode": row.mode,
        "state": row.state,
        "leg_sid": row.leg_sid,
    }


class CallMonitorView(_CallActionView):
    @extend_schema(
        tags=["agent console"],
        summary="Listen to, whisper on or barge into a live call",
        operation_id="voicetwilio_calls_monitor",
        description=(
            "Rings the supervisor's own softphone into the call's conference: muted (`listen`), coaching the agent "
            "(`whisper`: Twilio's Coaching with CallSidToCoach set to the agent's leg, so the caller does not hear "
            "them) or unmuted (`barge`). Called again with another mode, it changes the supervisor's participant; "
            "`off` takes them out. Needs the `voiceconfig.supervise_call` permission (403) and a voice agent of "
            "one's own (400); the call must be live with its agent connected (409). Every step is on the timeline."
        ),
        parameters=[CALL_ID_PARAMETER],
        request=MonitorRequestSerializer,
        responses={200: MonitorResultSerializer, **_errors(400, 401, 404, 409, 502, 503)},
        examples=[OpenApiExample("Listen", {"mode": "listen"}), OpenApiExample("Whisper", {"mode": "whisper"})],
    )
    def post(self, request: Request, id: str) -> Response:
        if not supervision.can_supervise(request.user):
            raise exceptions.PermissionDenied("Supervising calls needs the voiceconfig.supervise_call permission.")
        calls = Call.objects.all()
        call = calls.filter(pk=int(id)).first() if id.isdigit() else calls.filter(call_sid=id).first()
        if call is None:
            raise exceptions.NotFound(f"No call {id}.")
        params = self.parse(request, call, MonitorRequestSerializer)
        try:
            outcome = supervision.call_monitor(call=call, user=request.user, mode=params["mode"])
        except supervision.NoSoftphone as exc:
            raise exceptions.ValidationError({"mode": str(exc)}) from exc
        except StateConflict as exc:
            raise conflict(exc) from exc
        call = Call.objects.get(pk=call.pk)
        data = {
            **_call_state(call),
            "changed": outcome.changed,
            "supervision": supervision_summary(outcome.supervision),
        }
        return Response(MonitorResultSerializer(data).data)


def live_supervisors(call: Call) -> list[dict]:
    """Who is supervising the call now (the agent's console shows it)."""
    return [supervision_summary(row) for row in call_services.live_supervisions(call_id=call.pk)]


# --- playback ------------------------------------------------------------------------------------------------------

RANGE = re.compile(r"^bytes=\d*-\d*$")


class AnyContent(BaseContentNegotiation):
    """An audio endpoint: answer audio whatever the player's Accept header says (errors render as JSON)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class RecordingMediaView(APIView):
    """Stream a recording's audio from Twilio through us, passing Range on for seeking."""

    http_method_names = ["get", "options"]
    content_negotiation_class = AnyContent

    @extend_schema(
        tags=["recordings"],
        summary="Play or download a recording",
        operation_id="voicetwilio_recordings_media",
        description=(
            "The recording's audio (audio/mpeg, or audio/x-wav with `format=wav`), streamed from Twilio by the "
            "server: Twilio's URL and credentials never reach the browser. A `Range: bytes=...` header is passed "
            "on (206 Partial Content), so players can seek. `download=1` makes it an attachment. Staff, or the "
            "agent of the recorded call; 409 until the recording is completed."
        ),
        parameters=[
            OpenApiParameter(
                "pk", str, OpenApiParameter.PATH, description="The recording's id, or its Twilio SID (RE + 32 hex)."
            ),
            OpenApiParameter("format", str, enum=list(gateway.MEDIA_FORMATS), description="mp3 (default) or wav."),
            OpenApiParameter("download", bool, description="Save as a file instead of playing."),
        ],
        responses={
            (200, "audio/mpeg"): OpenApiTypes.BINARY,
            (206, "audio/mpeg"): OpenApiTypes.BINARY,
            **_errors(400, 401, 404, 409, 502, 503),
        },
    )
    def get(self, request: Request, pk: str):
        rows = Recording.objects.select_related("call")
        row = rows.filter(pk=int(pk)).first() if pk.isdigit() else rows.filter(recording_sid=pk).first()
        if row is not None and not request.user.is_staff:
            own = agent_of(request.user)
            row = row if own is not None and row.call.agent_id == own.pk else None
        if row is None:
            raise exceptions.NotFound(f"No recording {pk} of yours.")
        media_format = request.query_params.get("format", "mp3")
        if media_format not in gateway.MEDIA_FORMATS:
            raise exceptions.ValidationError({"format": f"One of {', '.join(gateway.MEDIA_FORMATS)}."})
        if row.state != RecordingState.COMPLETED or not row.recording_sid:
            raise Conflict(f"Recording {row.pk} is {row.state}; it can be played once it is completed.")
        byte_range = request.headers.get("Range", "")
        media = gateway.open_recording_media(
            recording_sid=row.recording_sid,
            media_format=media_format,
            byte_range=byte_range if RANGE.match(byte_range) else "",
        )
        response = StreamingHttpResponse(_relay(media), status=media.status, content_type=media.content_type)
        for name, value in media.headers.items():
            response[name] = value
        response["Accept-Ranges"] = "bytes"
        response["Cache-Control"] = "private, no-store"
        disposition = "attachment" if request.query_params.get("download") in ("1", "true") else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="{row.recording_sid}.{media_format}"'
        return response


def _relay(media: gateway.MediaStream):
    try:
        yield from media.chunks
    finally:
        media.close()
