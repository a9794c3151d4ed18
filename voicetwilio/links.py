"""Absolute URLs of our webhooks, as Twilio must call them (and as it signs them)."""

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse


def public_base_url(request: HttpRequest | None = None) -> str:
    """TWILIO_WEBHOOK_BASE_URL when set (behind a proxy); else the origin the request came in on."""
    if settings.TWILIO_WEBHOOK_BASE_URL:
        return settings.TWILIO_WEBHOOK_BASE_URL
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return "http://127.0.0.1:8000"


def webhook_url(name: str, request: HttpRequest | None = None, **query: str | int) -> str:
    """The public URL of the named webhook, with optional query parameters (signed by Twilio too)."""
    url = public_base_url(request) + reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def signed_url(request: HttpRequest) -> str:
    """The URL Twilio signed for this request (decision 2)."""
    if settings.TWILIO_WEBHOOK_BASE_URL:
        return settings.TWILIO_WEBHOOK_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()
