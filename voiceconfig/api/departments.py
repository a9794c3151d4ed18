"""Departments over REST (issue 16): `/voiceconfig/departments`, with members as a nested list that replaces the
stored one (agent id and level, in their listed order), like a config's IVR menu."""

import django_filters as filters
from django.db import transaction
from django.db.models import Prefetch
from rest_framework import serializers

from voiceconfig.models import (
    Department,
    DepartmentMember,
    NoAgentsAction,
    RingStrategy,
    VoiceAgent,
)

from .fields import E164Field
from .filters import IdFilter
from .permissions import IsStaff
from .views import BaseViewSet

MAX_MEMBERS = 500


class DepartmentMemberSerializer(serializers.ModelSerializer):
    agent = serializers.PrimaryKeyRelatedField(queryset=VoiceAgent.objects.all(), help_text="The agent's id.")
    level = serializers.IntegerField(
        min_value=1, max_value=9, default=1, help_text="1 (best, offered first) to 9; see widenAfterSeconds."
    )

    class Meta:
        model = DepartmentMember
        fields = ["agent", "level"]


class DepartmentSerializer(serializers.ModelSerializer):
    """A department with its members. `members` replaces the stored list; its order is the listed order."""

    members = DepartmentMemberSerializer(many=True, required=False, max_length=MAX_MEMBERS)
    no_agents_forward_to = E164Field(required=False, allow_blank=True)
    overflow_department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Department
        fields = [
            "id",
            "name",
            "strategy",
            "members",
            "time_zone",
            "max_wait_seconds",
            "max_callers",
            "overflow_department",
            "overflow_after_seconds",
            "widen_after_seconds",
            "announce_position",
            "hold_music_url",
            "no_agents_action",
            "no_agents_message",
            "no_agents_forward_to",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_members(self, value):
        agent_ids = [item["agent"].pk for item in value]
        if len(agent_ids) != len(set(agent_ids)):
            raise serializers.ValidationError("Each agent may be listed once.")
        return value

    def validate(self, attrs):
        def current(name: str):
            return attrs.get(name, getattr(self.instance, name, None))

        overflow = current("overflow_department")
        if overflow is not None and self.instance is not None and overflow.pk == self.instance.pk:
            raise serializers.ValidationError({"overflow_department": ["A department cannot overflow to itself."]})
        if current("no_agents_action") == NoAgentsAction.FORWARD and not current("no_agents_forward_to"):
            raise serializers.ValidationError({"no_agents_forward_to": ["Forwarding needs a number to forward to."]})
        return attrs

    def create(self, validated_data):
        members = validated_data.pop("members", None)
        with transaction.atomic():
            department = Department.objects.create(**validated_data)
            department_replace_members(department=department, members=members or [])
        return department

    def update(self, instance, validated_data):
        members = validated_data.pop("members", None)
        with transaction.atomic():
            instance = super().update(instance, validated_data)
            if members is not None:
                department_replace_members(department=instance, members=members)
        return instance


def department_replace_members(*, department: Department, members: list[dict]) -> None:
    """The stored members become exactly `members` (agent, level), positioned in the order given."""
    DepartmentMember.objects.filter(department=department).delete()
    DepartmentMember.objects.bulk_create(
        DepartmentMember(department=department, agent=item["agent"], level=item.get("level", 1), position=index)
        for index, item in enumerate(members)
    )
    # A fresh prefetch, so the response shows what was stored.
    if hasattr(department, "_prefetched_objects_cache"):
        department._prefetched_objects_cache.pop("members", None)


class DepartmentFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    strategy = filters.ChoiceFilter(choices=RingStrategy.choices)
    noAgentsAction = filters.ChoiceFilter(field_name="no_agents_action", choices=NoAgentsAction.choices)
    agent = IdFilter(field_name="members__agent_id", distinct=True)
    ordering = filters.OrderingFilter(fields=(("id", "id"), ("name", "name"), ("created_at", "createdAt")))

    class Meta:
        model = Department
        fields: list[str] = []


def department_queryset():
    return Department.objects.prefetch_related(
        Prefetch("members", queryset=DepartmentMember.objects.order_by("position", "id"))
    )


class DepartmentViewSet(BaseViewSet):
    """Departments: the queues callers wait in, their members (agent and level) and ring strategy. Staff only."""

    queryset = department_queryset()
    serializer_class = DepartmentSerializer
    permission_classes = [IsStaff]
    filterset_class = DepartmentFilter
    search_fields = ["name"]
