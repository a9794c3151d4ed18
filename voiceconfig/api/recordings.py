"""Recordings over REST (`/voiceconfig/recordings`): staff read all, an agent those of their own calls.

Read-only: Twilio's status callbacks write them, `manage.py purge_recordings` deletes them. A recording's audio is
at `mediaUrl`, our own authenticated endpoint (/voicetwilio/recordings/{id}/media) that streams it from Twilio:
Twilio's media URL and credentials never reach the browser.
"""

from django.urls import reverse
from django_filters import rest_framework as filters
from rest_framework import serializers

from voiceconfig.models import Recording, RecordingState

from .filters import IdFilter
from .views import AgentScopedViewSet


class RecordingSerializer(serializers.ModelSerializer):
    call_sid = serializers.CharField(source="call.call_sid", read_only=True)
    media_url = serializers.SerializerMethodField(
        help_text="Our streaming endpoint for the audio (Range requests allowed; `?download=1` to save it, "
        "`?format=wav` for WAV); null until the recording is completed."
    )

    class Meta:
        model = Recording
        fields = [
            "id",
            "call",
            "call_sid",
            "recording_sid",
            "state",
            "source",
            "channels",
            "duration_seconds",
            "started_at",
            "ended_at",
            "pause_count",
            "paused_seconds",
            "media_url",
            "created_at",
        ]
        read_only_fields = fields

    def get_media_url(self, row: Recording) -> str | None:
        if row.state != RecordingState.COMPLETED or not row.recording_sid:
            return None
        path = reverse("recording-media", kwargs={"pk": row.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class RecordingFilter(filters.FilterSet):
    call = IdFilter(field_name="call_id")
    callSid = filters.CharFilter(field_name="call__call_sid")
    state = filters.MultipleChoiceFilter(choices=RecordingState.choices)
    createdAfter = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Recording
        fields: list[str] = []


class RecordingViewSet(AgentScopedViewSet):
    """Call recordings: staff read all; an agent reads the recordings of the calls they took."""

    queryset = Recording.objects.select_related("call")
    serializer_class = RecordingSerializer
    filterset_class = RecordingFilter
    search_fields = ["recording_sid", "call__call_sid"]
    agent_lookup = "call__agent_id"
    http_method_names = ["get", "head", "options"]
