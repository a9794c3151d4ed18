"""Every 5xx outside the admin speaks the client's language, DEBUG on or off (issue 12 item 1).

Django answers an unhandled exception itself: with DEBUG off through `handler500` (urls.py: the JSON envelope),
with DEBUG on through its technical HTML page, which an API client or the console cannot read and which Twilio
cannot play. Django turns the exception into that response inside each middleware layer, so no outer layer ever
sees the exception; this middleware, the outermost but one, looks at the response instead and replaces a 5xx
that is not already in the right form:

- Twilio's webhooks (voicetwilio/webhook_urls.py): valid TwiML, the apology that needs no database, same status
  (a 5xx makes Twilio try the line's fallback URL for voice and gather, and retry an event callback);
- every other path but the admin's and the static files': the JSON envelope `{"error", "message"}`.

The exception is still logged by Django (django.request, with its traceback) before it reaches here.
"""

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from voiceconfig.api.errors import envelope
from voicetwilio import webhook_urls
from voicetwilio.twiml import apology
from voicetwilio.webhooks.http import twiml_response

# Pages a person reads in a browser: Django's own error pages stay (with DEBUG on, its traceback is the help).
HTML_PREFIXES = ("/admin/", "/static/")
WEBHOOK_PATHS = frozenset(f"/voicetwilio/{pattern.pattern}" for pattern in webhook_urls.urlpatterns)
SERVER_ERROR_MESSAGE = "Something went wrong on our side; it has been logged."


def is_webhook(path: str) -> bool:
    return path in WEBHOOK_PATHS


def _content_type(response: HttpResponse) -> str:
    return response.get("Content-Type", "").split(";")[0].strip().lower()


def _is_twiml(response: HttpResponse) -> bool:
    """text/xml TwiML, or the spec's {"data": "<TwiML>"} envelope for a client that asked for JSON."""
    content_type = _content_type(response)
    if content_type in {"text/xml", "application/xml"}:
        return True
    if content_type != "application/json" or response.streaming:
        return False
    try:
        return "data" in json.loads(response.content)
    except (ValueError, TypeError):
        return False


def _is_json(response: HttpResponse) -> bool:
    # A DRF response already carries the envelope (as JSON, or in the browsable API the client asked for).
    return getattr(response, "accepted_renderer", None) is not None or _content_type(response) == "application/json"


class ServerErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 500 or request.path.startswith(HTML_PREFIXES):
            return response
        if is_webhook(request.path):
            # TwiML, or an answer a webhook gave on purpose (a database outage's 503: voicetwilio/webhooks/outage.py).
            if _is_twiml(response) or getattr(response, "deliberate", False):
                return response
            return twiml_response(request, apology(fallback_url=""), status=response.status_code)
        if _is_json(response):
            return response
        return JsonResponse(
            envelope(response.status_code, SERVER_ERROR_MESSAGE, "server_error"), status=response.status_code
        )
