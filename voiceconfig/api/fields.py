from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from voiceconfig.validators import normalize_e164


class E164Field(serializers.CharField):
    """A phone number written in any international form, stored and shown as E.164."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if text == "" and self.allow_blank:
            return text
        try:
            return normalize_e164(text)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class KeywordListField(serializers.ListField):
    """A list of spoken keywords, stored as one comma-separated string."""

    child = serializers.RegexField(
        r"^[^,]{1,40}$", error_messages={"invalid": "A keyword has 1-40 characters, no comma."}
    )

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def to_representation(self, value):
        if isinstance(value, str):
            return [word.strip() for word in value.split(",") if word.strip()]
        return super().to_representation(value)

    def to_internal_value(self, data):
        words = super().to_internal_value(data)
        return ", ".join(word.strip().lower() for word in words if word.strip())


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "09:00"})
class ClockTimeField(serializers.TimeField):
    """A wall-clock time to the minute ("09:00"), in the config's own time zone.

    OpenAPI's `format: time` is RFC 3339's full-time, which needs a UTC offset that business hours don't have,
    so the schema says what this is: HH:MM. Seconds sent by a client are accepted and dropped.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S", "iso-8601"])
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        return super().to_internal_value(value).replace(second=0, microsecond=0)
