"""Small helpers: Twilio SIDs, Twilio's date format, URL and form-value parsing."""

import uuid
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

API_VERSION = "2010-04-01"
TWILIO_DEFAULT_HOLD_MUSIC = "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical"


def new_sid(prefix: str) -> str:
    """A Twilio SID: two letters and 32 lowercase hex digits (the project's validators require lowercase)."""
    return prefix + uuid.uuid4().hex


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's REST and callback date format, e.g. 'Tue, 10 Jan 2023 12:00:00 +0000'."""
    if moment is None:
        return None
    return format_datetime(moment.replace(microsecond=0)).replace("-0000", "+0000")


def as_bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("true", "1", "yes")


def as_int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def event_set(values: list[str] | str | None, default: str = "") -> set[str]:
    """Twilio event lists arrive as repeated form keys, as one space-separated value, or both."""
    if values is None:
        values = [default]
    if isinstance(values, str):
        values = [values]
    found: set[str] = set()
    for value in values:
        found.update(part for part in value.replace(",", " ").split() if part)
    return found


def short_path(url: str) -> str:
    """`/voicetwilio/gather?attempt=2` for a URL on the app, the whole URL elsewhere."""
    parts = urlsplit(url)
    if parts.hostname in ("127.0.0.1", "localhost", "testserver") or not parts.netloc:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return url


def quote_text(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f'"{text}"'
