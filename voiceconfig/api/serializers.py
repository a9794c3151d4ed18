"""REST representations of the five resources. JSON keys are camelized by the renderer (decision 12)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from voiceconfig import calls as call_services
from voiceconfig import services
from voiceconfig.models import (
    TERMINAL_CALL_STATUSES,
    AgentStatus,
    BusinessHours,
    Call,
    CallEvent,
    CallLog,
    Holiday,
    IvrOption,
    PhoneLine,
    Transfer,
    VoiceAgent,
    VoiceConfig,
)
from voiceconfig.validators import (
    validate_forward_number,
    validate_ivr_message,
    validate_opening_hours_do_not_overlap,
    validate_opening_range,
)

from .errors import Conflict
from .fields import ClockTimeField, E164Field, KeywordListField


class WholeItemSerializer(serializers.ModelSerializer):
    """An item of a nested list that replaces the stored list, so it is complete even inside a PATCH.

    DRF skips missing required fields of nested serializers when the request is partial; these items would then
    reach the database without them.
    """

    def validate(self, attrs):
        missing = {
            name: [serializers.Field.default_error_messages["required"]]
            for name, field in self.fields.items()
            if field.required and not field.read_only and name not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class BusinessHoursSerializer(WholeItemSerializer):
    opens_at = ClockTimeField()
    closes_at = ClockTimeField(help_text="Not after opens_at means the range runs past midnight.")

    class Meta:
        model = BusinessHours
        fields = ["weekday", "opens_at", "closes_at"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        validate_opening_range(attrs["opens_at"], attrs["closes_at"])
        return attrs


class HolidaySerializer(WholeItemSerializer):
    class Meta:
        model = Holiday
        fields = ["date", "name"]


class IvrOptionSerializer(WholeItemSerializer):
    keywords = KeywordListField(required=False)
    forward_to = E164Field(required=False, allow_blank=True)

    class Meta:
        model = IvrOption
        fields = ["digit", "keywords", "label", "action", "message", "forward_to", "department"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        validate_forward_number(action=attrs.get("action"), number=attrs.get("forward_to"), field="forward_to")
        validate_ivr_message(action=attrs.get("action"), message=attrs.get("message"))
        return attrs


class VoiceConfigSerializer(serializers.ModelSerializer):
    """A config with its business hours, holidays and IVR menu. Nested lists replace the stored ones."""

    after_hours_forward_to = E164Field(required=False, allow_blank=True)
    business_hours = BusinessHoursSerializer(many=True, required=False, max_length=100)
    holidays = HolidaySerializer(many=True, required=False, max_length=400)
    ivr_options = IvrOptionSerializer(many=True, required=False, max_length=12)

    class Meta:
        model = VoiceConfig
        fields = [
            "id",
            "name",
            "greeting_text",
            "greeting_audio_url",
            "voice",
            "language",
            "ivr_prompt",
            "ivr_max_attempts",
            "ivr_timeout_seconds",
            "ivr_options",
            "time_zone",
            "business_hours",
            "holidays",
            "after_hours_action",
            "after_hours_message",
            "after_hours_forward_to",
            "hold_music_url",
            "ring_timeout_seconds",
            "max_queue_wait_seconds",
            "voicemail_enabled",
            "voicemail_prompt",
            "voicemail_max_seconds",
            "unavailable_message",
            "recording_policy",
            "recording_consent_text",
            "recording_consent_audio_url",
            "recording_retention_days",
            "wrap_up_seconds",
            # Outbound calls and callbacks (issue 19, docs/outbound.md).
            "outbound_country_codes",
            "outbound_denied_prefixes",
            "outbound_calls_per_agent_hour",
            "callback_offer_after_seconds",
            "callback_max_attempts",
            "callback_retry_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_business_hours(self, value):
        # The admin's rule too (validators.py): ranges that overlap are refused, naming both.
        validate_opening_hours_do_not_overlap((item["weekday"], item["opens_at"], item["closes_at"]) for item in value)
        return value

    def validate_holidays(self, value):
        dates = [item["date"] for item in value]
        if len(dates) != len(set(dates)):
            raise serializers.ValidationError("Each holiday date may appear once.")
        return value

    def validate_ivr_options(self, value):
        digits = [item["digit"] for item in value]
        if len(digits) != len(set(digits)):
            raise serializers.ValidationError("Each IVR key may be used by one option only.")
        return value

    def validate(self, attrs):
        action = attrs.get("after_hours_action", getattr(self.instance, "after_hours_action", None))
        forward_to = attrs.get("after_hours_forward_to", getattr(self.instance, "after_hours_forward_to", ""))
        validate_forward_number(action=action, number=forward_to, field="after_hours_forward_to")
        return attrs

    def create(self, validated_data):
        nested = self._pop_nested(validated_data)
        with transaction.atomic():
            config = VoiceConfig.objects.create(**validated_data)
            services.config_replace_children(config=config, **nested)
        return config

    def update(self, instance, validated_data):
        nested = self._pop_nested(validated_data)
        with transaction.atomic():
            instance = super().update(instance, validated_data)
            services.config_replace_children(config=instance, **nested)
        return instance

    @staticmethod
    def _pop_nested(validated_data: dict) -> dict:
        return {key: validated_data.pop(key, None) for key in ("business_hours", "holidays", "ivr_options")}


class PhoneLineSerializer(serializers.ModelSerializer):
    # Declared fields get no model validators, so uniqueness is stated here; it checks the normalised number.
    phone_number = E164Field(
        help_text="E.164, e.g. +14155550100; other international forms are normalised.",
        validators=[UniqueValidator(PhoneLine.objects.all(), message="Another phone line already has this number.")],
    )
    agents = serializers.PrimaryKeyRelatedField(
        many=True, queryset=VoiceAgent.objects.all(), required=False, help_text="Agent ids; empty means every agent."
    )

    class Meta:
        model = PhoneLine
        fields = [
            "id",
            "name",
            "phone_number",
            "twilio_sid",
            "config",
            "enabled",
            "agents",
            "default_department",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


# The platform sets the busy states itself (decision 10); over REST staff choose only these.
SETTABLE_AGENT_STATUSES = [AgentStatus.OFFLINE, AgentStatus.AVAILABLE, AgentStatus.UNAVAILABLE]


class VoiceAgentSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.all())
    username = serializers.CharField(source="user.username", read_only=True)
    identity = serializers.CharField(
        required=False, max_length=121, help_text="Twilio client identity; derived from the username when omitted."
    )
    status = serializers.ChoiceField(choices=AgentStatus.choices, required=False)

    class Meta:
        model = VoiceAgent
        fields = [
            "id",
            "user",
            "username",
            "identity",
            "display_name",
            "status",
            "status_changed_at",
            "last_heartbeat_at",
            "last_call_ended_at",
            "wrap_up_until",
            "created_at",
        ]
        read_only_fields = [
            "status_changed_at",
            "last_heartbeat_at",
            "last_call_ended_at",
            "wrap_up_until",
            "created_at",
        ]

    def get_fields(self):
        fields = super().get_fields()
        # The model's own identity validators (Twilio's identity rules) apply to the explicit field too; uniqueness
        # is not among them, so validate_identity() checks it.
        model_field = VoiceAgent._meta.get_field("identity")
        fields["identity"].validators.extend(model_field.validators)
        return fields

    def validate_identity(self, value):
        qs = VoiceAgent.objects.filter(identity=value)
        if self.instance:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError("Another agent already uses this identity.")
        return value

    def validate_status(self, value):
        current = getattr(self.instance, "status", None)
        if value == current:
            return value
        if value not in SETTABLE_AGENT_STATUSES:
            raise serializers.ValidationError(
                "Only offline, available or unavailable can be set; the platform sets ringing, in_call and wrap_up."
            )
        if current in (AgentStatus.RINGING, AgentStatus.IN_CALL) and call_services.agent_active_call(
            agent=self.instance
        ):
            raise Conflict(f"Agent {self.instance} is on a live call; their status changes when the call ends.")
        return value

    def validate_user(self, value):
        qs = VoiceAgent.objects.filter(user=value)
        if self.instance:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError("This user is already an agent.")
        return value

    def create(self, validated_data):
        return services.agent_create(**validated_data)

    def update(self, instance, validated_data):
        status = validated_data.pop("status", None)
        instance = super().update(instance, validated_data)
        if status and status != instance.status:
            instance = call_services.agent_set_status(agent=instance, status=status)
        return instance


class RefuseReadOnlyWrites:
    """Answer a write to a read-only field with a 400 naming it, instead of DRF's silent ignore.

    A client that sends `{"status": "queued"}` must learn that nothing changed; ignoring it would answer 200 and
    let the client believe the call was moved back.
    """

    read_only_message = "Read-only."

    def validate(self, attrs):
        attrs = super().validate(attrs)
        refused = {
            name: [self.read_only_message]
            for name in self.initial_data
            if name in self.fields and self.fields[name].read_only and name not in self.writable_anyway()
        }
        if refused:
            raise serializers.ValidationError(refused)
        return attrs

    def writable_anyway(self) -> set[str]:
        # Read-only fields a client may echo back unchanged (a PUT of what it just read sends the id).
        return {"id"}


class TransferSerializer(serializers.ModelSerializer):
    """One transfer of the call, as the transfer flow recorded it (read-only)."""

    class Meta:
        model = Transfer
        fields = [
            "id",
            "step",
            "from_agent",
            "target_type",
            "target",
            "to_agent",
            "mode",
            "state",
            "conference_sid",
            "from_leg_sid",
            "leg_sid",
            "failure",
            "requested_at",
            "answered_at",
            "ended_at",
        ]
        read_only_fields = fields


# Every field of a call is what Twilio told us or what the call flow decided from it (DESIGN.md decision 5):
# staff read calls and annotate them with notes on the timeline (POST /voiceconfig/calllogs), never rewrite them.
CALL_FIELDS = [
    "id",
    "call_sid",
    "from_number",
    "to_number",
    "direction",
    "status",
    "stage",
    "phone_line",
    "agent",
    "conference_name",
    "conference_sid",
    "agent_call_sid",
    "ivr_choice",
    "on_hold",
    "started_at",
    "queued_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "recording_url",
    "recording_sid",
    "recording_duration",
    "voicemail",
    "transfers",
    "created_at",
    "updated_at",
]


class CallSerializer(RefuseReadOnlyWrites, serializers.ModelSerializer):
    transfers = TransferSerializer(many=True, read_only=True, help_text="The call's transfers, in order.")
    recording_url = serializers.SerializerMethodField(
        help_text="Where to play the call's recording (or voicemail): our authenticated streaming endpoint, never "
        "Twilio's media URL. Null when nothing was recorded."
    )
    read_only_message = (
        "Read-only: a call is recorded from Twilio and the call flow. Add a note to its timeline instead "
        "(POST /voiceconfig/calllogs)."
    )

    class Meta:
        model = Call
        fields = CALL_FIELDS
        read_only_fields = CALL_FIELDS

    def get_fields(self):
        return spec_names_for_numbers(super().get_fields())

    def writable_anyway(self) -> set[str]:
        # A PUT (or PATCH) may echo back what it read: a field sent with its current value changes nothing.
        if self.instance is None or isinstance(self.instance, list | tuple):
            return {"id"}
        current = self.to_representation(self.instance)
        return {"id"} | {name for name, value in self.initial_data.items() if current.get(name, object()) == value}

    def get_recording_url(self, call: Call) -> str | None:
        if not (call.recording_sid and call.recording_url):
            return None
        path = reverse("recording-media", kwargs={"pk": call.recording_sid})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


def spec_names_for_numbers(fields: dict) -> dict:
    # `from` and `to` are the specification's names but `from` is a Python keyword.
    fields["from"] = fields.pop("from_number")
    fields["to"] = fields.pop("to_number")
    fields["from"].source = "from_number"
    fields["to"].source = "to_number"
    return fields


class CallBackfillSerializer(serializers.ModelSerializer):
    """POST /voiceconfig/calls: a finished call Twilio handled while our webhooks could not record it."""

    status = serializers.ChoiceField(
        choices=sorted(TERMINAL_CALL_STATUSES), help_text="How the call ended: only a finished call is recorded."
    )
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()

    class Meta:
        model = Call
        fields = [
            "call_sid",
            "from_number",
            "to_number",
            "direction",
            "status",
            "phone_line",
            "agent",
            "started_at",
            "answered_at",
            "ended_at",
        ]
        extra_kwargs = {
            "from_number": {"required": True, "allow_blank": False},
            "to_number": {"required": True, "allow_blank": False},
        }

    def get_fields(self):
        return spec_names_for_numbers(super().get_fields())

    def validate(self, attrs):
        started, answered, ended = attrs["started_at"], attrs.get("answered_at"), attrs["ended_at"]
        if ended < started:
            raise serializers.ValidationError({"endedAt": ["A call ends after it starts."]})
        if answered is not None and not started <= answered <= ended:
            raise serializers.ValidationError({"answeredAt": ["A call is answered between its start and its end."]})
        return attrs

    def create(self, validated_data):
        user = self.context["request"].user
        return call_services.call_backfill(**validated_data, recorded_by=user.get_username())

    def to_representation(self, instance):
        return CallSerializer(instance, context=self.context).data


class CallLogSerializer(RefuseReadOnlyWrites, serializers.ModelSerializer):
    """A timeline event. Staff add notes; the events the platform recorded from Twilio are never edited."""

    read_only_message = "Read-only: set by the platform. A note carries its call, message and data."
    # Null on the events of a CallSid we have no call for (a webhook about an unknown call): the answer says so.
    # Over REST a log is always written for a call (validate).
    call = serializers.PrimaryKeyRelatedField(queryset=Call.objects.all(), allow_null=True)
    call_sid = serializers.CharField(read_only=True)
    event = serializers.ChoiceField(
        choices=CallLog._meta.get_field("event").choices,
        required=False,
        default=CallEvent.NOTE,
        help_text="Staff may add only `note` events; the other events are recorded by the platform.",
    )

    class Meta:
        model = CallLog
        fields = ["id", "call", "call_sid", "event", "call_status", "message", "data", "sequence_number", "created_at"]
        read_only_fields = ["call_status", "sequence_number", "created_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            # A note stays on the call it was written for; a PUT replaces the note, so it states the message.
            fields["call"].read_only = True
            fields["message"].required = not self.partial
        return fields

    def writable_anyway(self) -> set[str]:
        # A PUT echoes back the note's call and event unchanged.
        keep = {"id", "call_sid", "created_at"}
        if self.instance is not None:
            keep |= {"call"} if str(self.initial_data.get("call")) == str(self.instance.call_id) else set()
        return keep

    def validate_event(self, value):
        if value != CallEvent.NOTE:
            raise serializers.ValidationError(
                "Only notes can be added or edited; the other events are recorded by the platform from Twilio."
            )
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "call" in attrs and attrs["call"] is None:
            raise serializers.ValidationError({"call": ["A call log written over the API belongs to a call."]})
        call = attrs.get("call")
        if call is not None:
            attrs["call_sid"] = call.call_sid
        return attrs
