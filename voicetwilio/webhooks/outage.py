"""What a Twilio webhook answers when the database cannot be reached (docs/webhooks.md, "When the database is down").

Nothing is answered as stored unless it is stored. A 2xx tells Twilio "done": it never sends that request again.
So when a query fails because PostgreSQL is unreachable (refused, restarting, the connection cut mid-request),
the webhook answers 503 instead of the guard's apology TwiML:

- an event callback (status, participant, conference, recording, dial) is retried by Twilio, because the URLs we
  hand it carry Twilio's connection overrides (`links.RETRY_OVERRIDES`); every handler is idempotent, so a retry
  that arrives after a slow success changes nothing;
- a call-flow webhook (voice, gather, voicemail) fails over: Twilio fetches the line's fallback URL, which answers
  without the database (`webhooks.fallback`);
- the conference wait URL (queue wait) is the exception: the caller hears the hold music and it asks again.

Any other exception is still a bug of ours, answered by the guard with apology TwiML (never a 500).
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from .. import twiml
from ..links import EVENT_CALLBACKS
from .http import TwilioParams, error_json, twiml_response, wants_json

logger = logging.getLogger(__name__)

# Django's wrappers of the driver's "cannot reach / lost the server" errors. IntegrityError, DataError and
# ProgrammingError are not here: they are our bugs or bad input, and retrying them would fail the same way.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

# A database restart or fail-over takes seconds; Twilio's retries (connection overrides) come sooner anyway.
RETRY_AFTER_SECONDS = 2


# The conference's wait URL keeps its own error answer (hold music, then ask again): it claims nothing was stored,
# Twilio has no fallback URL for a wait URL, and the caller keeps their place in the queue until the database is back.
KEEP_WAITING = frozenset({"queue-wait"})


def _url_name(request: HttpRequest) -> str:
    match = request.resolver_match
    return match.url_name if match is not None else ""


def refuses(request: HttpRequest, error: Exception) -> bool:
    """Whether this failure is answered 503 (`database_unavailable`) rather than with the view's error TwiML."""
    return isinstance(error, DATABASE_UNAVAILABLE) and _url_name(request) not in KEEP_WAITING


def is_event_callback(request: HttpRequest) -> bool:
    return _url_name(request) in EVENT_CALLBACKS


def database_unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    """503 with an empty TwiML document (the JSON error envelope for a client asking for JSON) and Retry-After:
    Twilio retries a callback, or uses the fallback URL."""
    call_sid = TwilioParams(request).get("CallSid") or request.GET.get("callSid", "")
    what = "callback refused, Twilio will retry" if is_event_callback(request) else "Twilio will use the fallback URL"
    # One line per refused request, greppable by CallSid; the driver's message says which failure it was.
    logger.warning(
        "database unavailable: %s answered 503 (%s) CallSid=%s: %s",
        request.path,
        what,
        call_sid or "-",
        str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__,
    )
    if wants_json(request):
        response = error_json(503, "database_unavailable", "The database cannot be reached; send this request again.")
    else:
        response = twiml_response(request, twiml.empty(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Not a crash: voice_project.server_errors leaves this 5xx as it is (no apology in place of the envelope).
    response.deliberate = True
    return response
