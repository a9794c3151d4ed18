"""Absolute URLs of our webhooks, as Twilio must call them (and as it signs them)."""

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse

# URL names (webhook_urls.py) of the callbacks that report an event. Twilio ignores their TwiML: all that matters
# is that the event is stored, so they are retried when we cannot store it (webhooks/outage.py).
EVENT_CALLBACKS = frozenset(
    {
        "statuscallback",
        "participant-callback",
        "conference-callback",
        "recording-callback",
        "dial-callback",
        "outbound-status",
        "outbound-conference",
        "callback-leg",
    }
)

# Twilio's webhook connection overrides, a URL fragment Twilio reads and never sends: retry an event callback up to
# 5 times (rc) when the connection fails, the answer is late or it is a 5xx (rp), all within 15 s (tt, Twilio's
# maximum). A 4xx is not retried: bad input fails the same way every time. Twilio signs the URL without the fragment.
RETRY_OVERRIDES = "rc=5&rp=ct,rt,5xx&tt=15000"


def public_base_url(request: HttpRequest | None = None) -> str:
    """TWILIO_WEBHOOK_BASE_URL when set (behind a proxy); else the origin the request came in on."""
    if settings.TWILIO_WEBHOOK_BASE_URL:
        return settings.TWILIO_WEBHOOK_BASE_URL
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return "http://127.0.0.1:8000"


def webhook_url(name: str, request: HttpRequest | None = None, **query: str | int) -> str:
    """The public URL of the named webhook, with optional query parameters (signed by Twilio too).

    An event callback's URL ends with the retry overrides (`#rc=...`), so that a callback refused while the
    database is down is delivered again.
    """
    url = public_base_url(request) + webhook_path(name)
    if query:
        url = f"{url}?{urlencode(query)}"
    return f"{url}#{RETRY_OVERRIDES}" if name in EVENT_CALLBACKS else url


def webhook_path(name: str) -> str:
    """reverse(name), computed once per URL configuration: the flow builds up to three URLs per request."""
    return _reversed(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@functools.lru_cache(maxsize=256)
def _reversed(name: str, script_prefix: str, urlconf: str) -> str:
    # The prefix and URL configuration are part of the key: reverse() depends on both.
    return reverse(name, urlconf=urlconf)


def without_overrides(url: str) -> str:
    """The URL Twilio requests and signs: everything before the `#` of the connection overrides."""
    return url.split("#", 1)[0]


def signed_url(request: HttpRequest) -> str:
    """The URL Twilio signed for this request (decision 2). A fragment never reaches us, and Twilio leaves it out."""
    if settings.TWILIO_WEBHOOK_BASE_URL:
        return settings.TWILIO_WEBHOOK_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()
