"""Validation shared by models, serializers and forms."""

import re
import zoneinfo
from datetime import time

import phonenumbers
from django.core.exceptions import ValidationError

# Twilio client identities: letters, digits and underscores, at most 121 characters.
IDENTITY_PATTERN = r"^[A-Za-z0-9_]{1,121}$"
CALL_SID_PATTERN = r"^CA[0-9a-f]{32}$"
PHONE_NUMBER_SID_PATTERN = r"^PN[0-9a-f]{32}$"
DTMF_KEYS = "0123456789*#"


def normalize_e164(value: str) -> str:
    """Parse a phone number written in any international form and return it as E.164.

    Raises ValidationError when the text is not a valid, dialable international number.
    """
    text = (value or "").strip()
    if text.startswith("00"):
        # The international call prefix most of the world dials, written instead of the +.
        text = "+" + text[2:]
    if not text.startswith("+"):
        raise ValidationError("Enter the number in international form, starting with + and the country code.")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"Not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("This is not a valid phone number for its country.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    if normalize_e164(value) != value:
        raise ValidationError("Phone numbers are stored in E.164 form, such as +14155550100.")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/London.")


def validate_identity(value: str) -> None:
    if not re.fullmatch(IDENTITY_PATTERN, value or ""):
        raise ValidationError("Use 1 to 121 letters, digits or underscores (Twilio client identity rules).")


def identity_from_username(username: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", username)[:121]
    return cleaned or "agent"


# What a forward action with no number says, per field. The database refuses such rows too (the
# *_forward_needs_number constraints); these words reach the admin form and the REST error alike.
FORWARD_NEEDS_NUMBER = {
    "forward_to": "A forward option needs the number to forward to.",
    "after_hours_forward_to": "Forwarding after hours needs a number to forward to.",
}


def validate_forward_number(*, action: str | None, number: str | None, field: str) -> None:
    """A `forward` action (IVR option or after hours) needs a number; the error names `field`."""
    if action == "forward" and not number:
        raise ValidationError({field: FORWARD_NEEDS_NUMBER[field]})


def validate_opening_range(opens: time, closes: time) -> None:
    """Opening and closing at the same minute is neither closed nor all day; ask for two times."""
    if opens == closes:
        raise ValidationError("Opening and closing at the same minute leaves the line closed: pick two times.")
