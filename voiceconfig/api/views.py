"""The configuration REST API: five resources at the specification's paths."""

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS

from voiceconfig import services
from voiceconfig.line_numbers import NumberRefused, provisioner, provisioning_on
from voiceconfig.models import Call, CallEvent, CallLog, PhoneLine, VoiceAgent, VoiceConfig

from . import filters, serializers
from .errors import Conflict
from .permissions import IsStaff, IsStaffOrAgentReadOnly, agent_of

# Ids are bigints; anything longer cannot exist and answers 404 without touching the database.
ID_PATTERN = r"[0-9]{1,18}"


class BaseViewSet(viewsets.ModelViewSet):
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    # A row and its many-to-many links or nested rows are written together or not at all.
    def perform_create(self, serializer):
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer):
        with transaction.atomic():
            serializer.save()


class AgentScopedViewSet(BaseViewSet):
    """Staff see every row; an agent sees only rows that belong to them (others answer 404)."""

    permission_classes = [IsStaffOrAgentReadOnly]
    agent_lookup = ""

    def get_queryset(self):
        queryset = super().get_queryset()
        user = self.request.user
        if user.is_staff:
            return queryset
        agent = agent_of(user)
        if agent is None:
            return queryset.none()
        return queryset.filter(**{self.agent_lookup: agent.pk})


class VoiceConfigViewSet(BaseViewSet):
    """Voice configs: greeting, IVR menu, business hours, holidays and queueing rules. Staff only."""

    queryset = VoiceConfig.objects.prefetch_related("business_hours", "holidays", "ivr_options")
    serializer_class = serializers.VoiceConfigSerializer
    permission_classes = [IsStaff]
    filterset_class = filters.VoiceConfigFilter
    search_fields = ["name", "greeting_text"]

    def perform_destroy(self, instance):
        try:
            services.config_delete(config=instance)
        except services.StateConflict as exc:
            raise Conflict(str(exc)) from exc


class PhoneLineViewSet(BaseViewSet):
    """Phone lines: a number, the config it follows and the agents who answer it. Staff only."""

    queryset = PhoneLine.objects.prefetch_related(Prefetch("agents", queryset=VoiceAgent.objects.only("id")))
    serializer_class = serializers.PhoneLineSerializer
    permission_classes = [IsStaff]
    filterset_class = filters.PhoneLineFilter
    search_fields = ["name", "phone_number"]

    def perform_create(self, serializer):
        self._save_attached(serializer)

    def perform_update(self, serializer):
        self._save_attached(serializer)

    def _save_attached(self, serializer) -> None:
        """Issue 15: an enabled line's number is pointed at us on Twilio first, outside any transaction, then
        the line is saved with the number's SID. A number Twilio cannot route to us (not on the account, or
        answered by a TwiML application) is a 400; Twilio failing is the gateway's 502 and nothing is saved."""
        data, line = serializer.validated_data, serializer.instance
        enabled = data.get("enabled", line.enabled if line else True)
        extra = {}
        if provisioning_on() and enabled:
            number = data.get("phone_number") or line.phone_number
            try:
                config = data.get("config") or (line.config if line else None)
                unsaved = PhoneLine(phone_number=number, config=config, enabled=True)
                extra["twilio_sid"] = provisioner().attach(phone_number=number, line=unsaved)
            except NumberRefused as exc:
                raise ValidationError({"phone_number": [str(exc)]}) from exc
        with transaction.atomic():
            serializer.save(**extra)


class VoiceAgentViewSet(AgentScopedViewSet):
    """Voice agents. An agent reads their own record; staff manage all."""

    queryset = VoiceAgent.objects.select_related("user")
    serializer_class = serializers.VoiceAgentSerializer
    filterset_class = filters.VoiceAgentFilter
    search_fields = ["identity", "display_name", "user__username"]
    agent_lookup = "pk"

    def perform_destroy(self, instance):
        try:
            services.agent_delete(agent=instance)
        except services.StateConflict as exc:
            raise Conflict(str(exc)) from exc


@extend_schema_view(
    create=extend_schema(request=serializers.CallBackfillSerializer, responses={201: serializers.CallSerializer})
)
class CallViewSet(AgentScopedViewSet):
    """Calls, as Twilio and the call flow recorded them. An agent reads the calls they took; staff read all.

    Nothing rewrites a call over REST: every field is what Twilio told us or what the call flow decided from it, so a
    PUT or PATCH that changes a field is a 400 naming it (sending a field back unchanged is fine). Staff annotate a
    call with a note in its call logs. POST records a *finished* call that Twilio handled while our webhooks could
    not record it (a backfill from Twilio's call log). Only a superuser may delete a call (an erasure request), with
    its timeline.
    """

    queryset = Call.objects.prefetch_related("transfers")
    serializer_class = serializers.CallSerializer
    filterset_class = filters.CallFilter
    search_fields = ["call_sid", "from_number", "to_number"]
    agent_lookup = "agent_id"
    schema_error_codes_excluded = {"409"}  # no state of a call makes a refused write or a deletion a conflict

    def get_serializer_class(self):
        if self.action == "create":
            return serializers.CallBackfillSerializer
        return super().get_serializer_class()

    def perform_update(self, serializer):
        # Every field is read-only, so a valid update has nothing to write: not even updated_at moves.
        pass

    def perform_destroy(self, instance):
        if not self.request.user.is_superuser:
            raise PermissionDenied("Only a superuser may delete a call: it is the record of what Twilio told us.")
        instance.delete()


class CallLogViewSet(AgentScopedViewSet):
    """Call logs: the timeline of each call. An agent reads the logs of their own calls.

    Staff add, edit and delete notes; the events the platform recorded (status changes, IVR input, routing, hold,
    transfer, recording, ...) are never edited or deleted (403).
    """

    queryset = CallLog.objects.all()
    serializer_class = serializers.CallLogSerializer
    filterset_class = filters.CallLogFilter
    search_fields = ["call_sid", "message"]
    agent_lookup = "call__agent_id"

    def get_object(self):
        log = super().get_object()
        if self.request.method not in SAFE_METHODS and log.event != CallEvent.NOTE:
            raise PermissionDenied(
                f"This {log.get_event_display().lower()} event was recorded by the platform and cannot be "
                "changed or deleted; add a note instead."
            )
        return log
