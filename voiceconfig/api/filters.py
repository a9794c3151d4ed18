"""List filters. Query parameter names are the JSON field names (camelCase), as DESIGN.md promises."""

import contextlib

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError

from voiceconfig.calls import available_agents
from voiceconfig.models import (
    AfterHoursAction,
    AgentStatus,
    Call,
    CallDirection,
    CallEvent,
    CallLog,
    CallStage,
    CallStatus,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)
from voiceconfig.validators import normalize_e164

# The largest id a bigint primary key can hold; a larger number can only be a mistake.
MAX_ID = 2**63 - 1


class IdFilter(filters.NumberFilter):
    """An id: a whole number in the bigint range (NumberFilter would accept 1.5 and overflow the database)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class PhoneFilter(filters.CharFilter):
    """A phone number (or Twilio client address), matched in its stored E.164 form.

    `?phoneNumber=+14155550100` written unencoded arrives as " 14155550100" (a URL's + means space), and people
    write numbers with spaces or dashes; both find the stored number.
    """

    def filter(self, qs, value):
        if value:
            value = value.strip()
            if value[:1].isdigit() and value.replace(" ", "").replace("-", "").isdigit():
                value = "+" + value
            # Not a phone number (a client:identity, a SIP address): match it as written.
            with contextlib.suppress(DjangoValidationError):
                value = normalize_e164(value)
        return super().filter(qs, value)


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
    phoneNumber = PhoneFilter(field_name="phone_number")
    config = IdFilter(field_name="config_id")
    enabled = filters.BooleanFilter()
    agent = IdFilter(field_name="agents__id", distinct=True)
    ordering = filters.OrderingFilter(
        fields=(("id", "id"), ("name", "name"), ("phone_number", "phoneNumber"), ("created_at", "createdAt"))
    )

    class Meta:
        model = PhoneLine
        fields: list[str] = []


class VoiceAgentFilter(filters.FilterSet):
    user = IdFilter(field_name="user_id")
    identity = filters.CharFilter()
    displayName = filters.CharFilter(field_name="display_name", lookup_expr="icontains")
    status = filters.ChoiceFilter(choices=AgentStatus.choices)
    phoneLine = IdFilter(field_name="phone_lines__id", distinct=True)
    canTakeCalls = filters.BooleanFilter(
        method="filter_can_take_calls",
        label="Can take a call now: available (or wrap-up over), console heartbeat fresh, no live call. The rule "
        "routing uses.",
    )
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

    def filter_can_take_calls(self, queryset, name: str, value: bool | None):
        if value is None:
            return queryset
        can = available_agents(line=None).values("pk")
        return queryset.filter(pk__in=can) if value else queryset.exclude(pk__in=can)


class CallFilter(filters.FilterSet):
    callSid = filters.CharFilter(field_name="call_sid")
    to = PhoneFilter(field_name="to_number")
    direction = filters.ChoiceFilter(choices=CallDirection.choices)
    stage = filters.MultipleChoiceFilter(choices=CallStage.choices)
    status = filters.MultipleChoiceFilter(choices=CallStatus.choices)
    phoneLine = IdFilter(field_name="phone_line_id")
    agent = IdFilter(field_name="agent_id")
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
CallFilter.base_filters["from"] = PhoneFilter(field_name="from_number", label="from")


class CallLogFilter(filters.FilterSet):
    call = IdFilter(field_name="call_id")
    callSid = filters.CharFilter(field_name="call_sid")
    event = filters.ChoiceFilter(choices=CallEvent.choices)
    createdAfter = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    ordering = filters.OrderingFilter(fields=(("id", "id"), ("created_at", "createdAt")))

    class Meta:
        model = CallLog
        fields: list[str] = []
