"""Queued callbacks and missed calls to follow up over REST (issue 19).

/voiceconfig/callbacks           read-only: every callback (staff), or those an agent handled; filter by state
/voiceconfig/missedcalls         abandoned and voicemail calls nobody has returned yet, newest first (staff, agents)
/voiceconfig/missedcalls/{id}/done   mark one done by hand (it is done by itself when an agent calls it back)
"""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from voiceconfig.calls import outbound as outbound_services
from voiceconfig.models import Call, Callback, CallbackState

from .permissions import agent_of
from .serializers import CALL_FIELDS, CallSerializer
from .views import ID_PATTERN


class IsStaffOrAgent(BasePermission):
    message = "Only staff and agents may see callbacks and missed calls."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or agent_of(user) is not None))


class CallbackSerializer(serializers.ModelSerializer):
    call_sid = serializers.CharField(source="call.call_sid", read_only=True, help_text="The call that asked.")

    class Meta:
        model = Callback
        fields = [
            "id",
            "call",
            "call_sid",
            "phone_line",
            "department",
            "customer_number",
            "state",
            "queued_at",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "agent",
            "outbound_call",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CallbackFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=CallbackState.choices)
    phoneLine = filters.NumberFilter(field_name="phone_line_id")
    agent = filters.NumberFilter(field_name="agent_id")

    class Meta:
        model = Callback
        fields: list[str] = []


class CallbackViewSet(viewsets.ReadOnlyModelViewSet):
    """Queued callbacks: who asked, their place (queuedAt), attempts and outcome. Written by the call flow only."""

    queryset = Callback.objects.select_related("call")
    serializer_class = CallbackSerializer
    permission_classes = [IsStaffOrAgent]
    filterset_class = CallbackFilter
    lookup_value_regex = ID_PATTERN
    search_fields = ["customer_number"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.request.user.is_staff:
            return queryset
        return queryset.filter(agent_id=agent_of(self.request.user).pk)


class MissedCallSerializer(CallSerializer):
    class Meta(CallSerializer.Meta):
        fields = [*CALL_FIELDS, "followed_up_at"]
        read_only_fields = fields


class MissedCallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Abandoned and voicemail calls not returned yet: an agent calls one back from the console, or marks it done."""

    serializer_class = MissedCallSerializer
    permission_classes = [IsStaffOrAgent]
    lookup_value_regex = ID_PATTERN
    filter_backends: list = []

    def get_queryset(self):
        return outbound_services.missed_calls().prefetch_related("transfers")

    @extend_schema(request=None, responses=MissedCallSerializer)
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        """Mark a missed call followed up by hand. 404 when it is not (or no longer) a missed call."""
        who = agent_of(request.user) or request.user
        if not outbound_services.call_mark_followed_up(call_id=int(pk), how=f"marked done by {who}"):
            raise NotFound("No missed call to follow up with this id: it was returned already, or never missed.")
        return Response(MissedCallSerializer(Call.objects.get(pk=pk)).data)
