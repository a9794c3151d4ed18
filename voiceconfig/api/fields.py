from django.core.exceptions import ValidationError as DjangoValidationError
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
