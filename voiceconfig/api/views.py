"""The configuration REST API: five resources at the specification's paths."""

from django.db import transaction
from django.db.models import Prefetch
from rest_framework import viewsets

from voiceconfig import services
from voiceconfig.models import Call, CallLog, PhoneLine, VoiceAgent, VoiceConfig

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


class CallViewSet(AgentScopedViewSet):
    """Calls. An agent reads the calls they took; staff manage all."""

    queryset = Call.objects.prefetch_related("transfers")
    serializer_class = serializers.CallSerializer
    filterset_class = filters.CallFilter
    search_fields = ["call_sid", "from_number", "to_number"]
    agent_lookup = "agent_id"


class CallLogViewSet(AgentScopedViewSet):
    """Call logs: the timeline of each call. An agent reads the logs of their own calls."""

    queryset = CallLog.objects.all()
    serializer_class = serializers.CallLogSerializer
    filterset_class = filters.CallLogFilter
    search_fields = ["call_sid", "message"]
    agent_lookup = "call__agent_id"
