"""Request and response shapes of the agent console API. JSON keys are camelized by the renderer (decision 12)."""

import phonenumbers
from rest_framework import serializers

from voiceconfig.models import AgentStatus
from voiceconfig.validators import CALL_SID_PATTERN

# --- client tokens -----------------------------------------------------------------------------


class ClientTokenRequestSerializer(serializers.Serializer):
    agent = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="Staff only: the voice agent id to issue the token for. Agents get their own token.",
    )


class ClientTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Twilio Access Token (JWT) with a VoiceGrant, for Device.register().")
    identity = serializers.CharField(help_text="The Twilio client identity the token is for.")
    expires_at = serializers.DateTimeField()
    ttl_seconds = serializers.IntegerField()


# --- call control ------------------------------------------------------------------------------


class CallActionRequestSerializer(serializers.Serializer):
    call_sid = serializers.RegexField(
        CALL_SID_PATTERN,
        required=False,
        help_text="Optional; when given it must be the call's own CallSid.",
        error_messages={"invalid": "A Twilio Call SID is CA followed by 32 lowercase hex digits."},
    )


class TransferType:
    PHONE_NUMBER = "phonenumber"
    CLIENT = "client"
    DEPARTMENT = "department"
    CHOICES = [
        (PHONE_NUMBER, "An outside phone number (E.164)"),
        (CLIENT, "Another agent's softphone"),
        (DEPARTMENT, "A department's queue (always cold): the caller waits first in line"),
    ]


class TransferMode:
    COLD = "cold"
    WARM = "warm"
    CHOICES = [
        (COLD, "The new party joins and the agent leaves at once"),
        (WARM, "The agent stays to introduce the caller, and leaves by hanging up"),
    ]


class TransferRequestSerializer(CallActionRequestSerializer):
    type = serializers.ChoiceField(choices=TransferType.CHOICES)
    to = serializers.CharField(
        max_length=200,
        help_text=(
            "type phonenumber: an E.164 number such as +14155550123. type client: the receiving agent's id, "
            "client identity, or `client:<identity>`. type department: the department's id or name."
        ),
    )
    mode = serializers.ChoiceField(choices=TransferMode.CHOICES, default=TransferMode.COLD)


class CallStateSerializer(serializers.Serializer):
    """The call after the action."""

    id = serializers.IntegerField()
    call_sid = serializers.CharField()
    status = serializers.CharField(help_text="Twilio call status of the caller's leg.")
    agent = serializers.IntegerField(allow_null=True, source="agent_id", help_text="The agent now on the call.")
    on_hold = serializers.BooleanField()
    hold_seconds = serializers.IntegerField(help_text="Seconds on hold so far, all holds added up.")


class HoldResultSerializer(CallStateSerializer):
    changed = serializers.BooleanField(
        help_text="False when the call was already in the requested state: nothing was sent to Twilio."
    )


class TransferResultSerializer(CallStateSerializer):
    transfer = serializers.DictField(
        help_text="The Transfer row: id, step, type, to, mode, state, participantCallSid (the new leg), "
        "previousAgentCallSid, toAgent (client transfers) and fromAgent."
    )


# --- agent presence ----------------------------------------------------------------------------

# Agents choose only these; ringing, in_call and wrap_up are set by the platform (decision 10).
CHOOSABLE_STATUSES = [AgentStatus.AVAILABLE, AgentStatus.UNAVAILABLE, AgentStatus.OFFLINE]


class AgentStatusRequestSerializer(serializers.Serializer):
    available = serializers.BooleanField(required=False, help_text="The spec's form: true = available.")
    status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in CHOOSABLE_STATUSES],
        required=False,
        help_text="available, unavailable or offline.",
    )

    def validate(self, attrs):
        if "status" not in attrs and "available" not in attrs:
            raise serializers.ValidationError('Send {"available": true|false} or {"status": ...}.')
        if "available" in attrs:
            implied = AgentStatus.AVAILABLE if attrs["available"] else AgentStatus.UNAVAILABLE
            if "status" in attrs and (attrs["status"] == AgentStatus.AVAILABLE) != attrs["available"]:
                raise serializers.ValidationError("`available` and `status` disagree; send one of them.")
            attrs.setdefault("status", implied)
        return attrs


class AgentPresenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity = serializers.CharField()
    status = serializers.ChoiceField(choices=AgentStatus.choices, help_text="The stored status.")
    online = serializers.BooleanField(
        help_text="Whether the last heartbeat is recent enough (AGENT_HEARTBEAT_TIMEOUT_SECONDS); offline agents "
        "are never routed to, whatever their status."
    )
    status_changed_at = serializers.DateTimeField(allow_null=True)
    last_heartbeat_at = serializers.DateTimeField(allow_null=True)
    heartbeat_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Send the next heartbeat before this moment to stay online."
    )
    wrap_up_until = serializers.DateTimeField(allow_null=True)


class AgentStatusResultSerializer(AgentPresenceSerializer):
    offered_call = serializers.IntegerField(
        allow_null=True, help_text="The queued call offered to the agent on becoming available, if any."
    )


# --- phone number search -----------------------------------------------------------------------

NUMBER_TYPES = [("local", "Local"), ("tollFree", "Toll-free"), ("mobile", "Mobile")]


class PhoneNumberSearchSerializer(serializers.Serializer):
    """Query parameters, read from `countryCode` (or the spec's `CountryCode`), `areaCode`, `contains`, `type`."""

    country_code = serializers.CharField(max_length=2, min_length=2)
    area_code = serializers.RegexField(
        r"^[0-9]{1,5}$", required=False, error_messages={"invalid": "An area code is 1 to 5 digits, such as 415."}
    )
    contains = serializers.RegexField(
        r"^[0-9A-Za-z*]{1,16}$",
        required=False,
        error_messages={"invalid": "Use up to 16 digits, letters or * wildcards, such as 555 or STORE."},
    )
    type = serializers.ChoiceField(choices=NUMBER_TYPES, default="local")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)

    def validate_country_code(self, value: str) -> str:
        code = value.upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise serializers.ValidationError(
                f"Unknown country code {value!r}; use a two-letter ISO 3166-1 code such as US or GB."
            )
        return code


class AvailableNumberSerializer(serializers.Serializer):
    phone_number = serializers.CharField(help_text="E.164")
    friendly_name = serializers.CharField()
    country_code = serializers.CharField(help_text="ISO 3166-1 alpha-2")
    locality = serializers.CharField()
    region = serializers.CharField()
    postal_code = serializers.CharField()
    address_requirements = serializers.CharField(help_text="none, any, local or foreign")
    beta = serializers.BooleanField()
    capabilities = serializers.SerializerMethodField()

    def get_capabilities(self, number) -> dict[str, bool]:
        return {"voice": number.voice, "sms": number.sms, "mms": number.mms, "fax": number.fax}


class PhoneNumberListSerializer(serializers.Serializer):
    phone_number_list = AvailableNumberSerializer(many=True)
