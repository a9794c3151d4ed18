"""Validation shared by models, serializers and forms."""

import calendar
import re
import zoneinfo
from collections.abc import Iterable
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


# --- one config's rules, shared by the admin forms and the REST serializers (issue 13 item 6) ----------------------

IVR_MESSAGE_NEEDS_WORDS = "A message option needs the words to read to the caller."


def validate_ivr_message(*, action: str | None, message: str | None) -> None:
    """An IVR `message` option reads its words to the caller: it needs some."""
    if action == "message" and not (message or "").strip():
        raise ValidationError({"message": IVR_MESSAGE_NEEDS_WORDS})


MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def week_intervals(weekday: int, opens: time, closes: time) -> list[tuple[int, int]]:
    """The minutes of the week (Monday 00:00 = 0) a range covers; a range past midnight spills into the next day,
    and Sunday night into Monday morning."""
    start = weekday * MINUTES_PER_DAY + _minutes(opens)
    length = (_minutes(closes) - _minutes(opens)) % MINUTES_PER_DAY
    end = start + length
    if end <= MINUTES_PER_WEEK:
        return [(start, end)]
    return [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]


def opening_label(weekday: int, opens: time, closes: time) -> str:
    """How a range reads in an error (as BusinessHours reads itself: "Monday 09:00-17:00")."""
    return f"{calendar.day_name[weekday]} {opens:%H:%M}-{closes:%H:%M}"


def validate_opening_hours_do_not_overlap(ranges: Iterable[tuple[int, time, time]]) -> None:
    """Refuse weekly opening ranges (weekday, opens, closes) that overlap, naming both, so a schedule reads one way.

    Ranges that open and close at the same minute are left to validate_opening_range.
    """
    minutes = []
    for weekday, opens, closes in ranges:
        if opens == closes:
            continue
        label = opening_label(weekday, opens, closes)
        minutes.extend((start, end, label) for start, end in week_intervals(weekday, opens, closes))
    minutes.sort()
    problems = [
        f"{label} overlaps {next_label}."
        for (_, end, label), (next_start, _, next_label) in zip(minutes, minutes[1:], strict=False)
        if next_start < end and label != next_label
    ]
    if problems:
        raise ValidationError(problems + ["Merge them into one range or change one of them."])
