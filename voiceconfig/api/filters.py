"""List filters. Query parameter names are the JSON field names (camelCase), as DESIGN.md promises."""

import django_filters as filters

from voiceconfig.models import (
    AfterHoursAction,
    AgentStatus,
    Call,
    CallDirection,
    CallEvent,
    CallLog,
    CallStatus,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)


class VoiceConfigFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    timeZone = filters.CharFilter(field_name="time_zone")
    afterHoursAction = filters.ChoiceFilter(field_name="after_hours_action", choices=AfterHoursAction.choices)
    voicemailEnabled = filters.BooleanFilter(field_name="voicemail_enabled")
    ordering = filters.OrderingFilter(fields=(("id", "id"), ("name", "name"), ("created_at", "createdAt")))

    class Meta:
        model = VoiceConfig
        fields: list[str] = []


class PhoneLineFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    phoneNumber = filters.CharFilter(field_name="phone_number")
    config = filters.NumberFilter(field_name="config_id")
    enabled = filters.BooleanFilter()
    agent = filters.NumberFilter(field_name="agents__id", distinct=True)
    ordering = filters.OrderingFilter(
        fields=(("id", "id"), ("name", "name"), ("phone_number", "phoneNumber"), ("created_at", "createdAt"))
    )

    class Meta:
        model = PhoneLine
        fields: list[str] = []


class VoiceAgentFilter(filters.FilterSet):
    user = filters.NumberFilter(field_name="user_id")
    identity = filters.CharFilter()
    displayName = filters.CharFilter(field_name="display_name", lookup_expr="icontains")
    status = filters.ChoiceFilter(choices=AgentStatus.choices)
    phoneLine = filters.NumberFilter(field_name="phone_lines__id", distinct=True)
    ordering = filters.OrderingFilter(
        fields=(
            ("id", "id"),
            ("identity", "identity"),
            ("display_name", "displayName"),
            ("status", "status"),
            ("last_call_ended_at", "lastCallEndedAt"),
        )
    )

    class Meta:
        model = VoiceAgent
        fields: list[str] = []


class CallFilter(filters.FilterSet):
    callSid = filters.CharFilter(field_name="call_sid")
    to = filters.CharFilter(field_name="to_number")
    direction = filters.ChoiceFilter(choices=CallDirection.choices)
    status = filters.MultipleChoiceFilter(choices=CallStatus.choices)
    phoneLine = filters.NumberFilter(field_name="phone_line_id")
    agent = filters.NumberFilter(field_name="agent_id")
    voicemail = filters.BooleanFilter()
    createdAfter = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    ordering = filters.OrderingFilter(
        fields=(
            ("id", "id"),
            ("created_at", "createdAt"),
            ("started_at", "startedAt"),
            ("ended_at", "endedAt"),
            ("wait_seconds", "waitSeconds"),
            ("talk_seconds", "talkSeconds"),
            ("status", "status"),
        )
    )

    class Meta:
        model = Call
        fields: list[str] = []


# `from` is a Python keyword, so it is added after the class is built.
CallFilter.base_filters["from"] = filters.CharFilter(field_name="from_number", label="from")


class CallLogFilter(filters.FilterSet):
    call = filters.NumberFilter(field_name="call_id")
    callSid = filters.CharFilter(field_name="call_sid")
    event = filters.ChoiceFilter(choices=CallEvent.choices)
    createdAfter = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    ordering = filters.OrderingFilter(fields=(("id", "id"), ("created_at", "createdAt")))

    class Meta:
        model = CallLog
        fields: list[str] = []
