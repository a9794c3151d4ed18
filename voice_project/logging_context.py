"""Structured logs that carry the call they are about.

A call's life is spread over many webhook requests (voice, gather, status callbacks, console actions),
often served by different gunicorn workers on different hosts. To follow one call through the logs,
every line written while a request about that call is served carries its CallSid. The middleware finds
the CallSid (Twilio's form field, the spec's camelCase field, or a `CA...` id in the path) and binds it in
a context variable; a logging filter copies it onto every record; the formatters print it.

Settings wire it up: `CallContextMiddleware` near the top of MIDDLEWARE, `CallContextFilter` on the
handlers, and `JsonFormatter` (one JSON object per line, the production default) or the key=value text
format for development (`DJANGO_LOG_FORMAT=json|text`).
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

call_sid_var: ContextVar[str] = ContextVar("call_sid", default="")
request_id_var: ContextVar[str] = ContextVar("request_id", default="")

CALL_SID_IN_TEXT = re.compile(r"\bCA[0-9a-fA-F]{32}\b")
# Only these requests can be about a call; reading the form of any other request would be wasted work.
CALL_PATH_PREFIX = "/voicetwilio/"
# Twilio posts urlencoded forms; test clients and some tools post multipart ones.
FORM_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
CALL_SID_KEYS = ("CallSid", "callSid", "ParentCallSid")
REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
# Twilio sends its own request id on every webhook; the same id shows in Twilio's debugger.
TWILIO_REQUEST_ID_HEADER = "HTTP_I_TWILIO_IDEMPOTENCY_TOKEN"

request_logger = logging.getLogger("voice.request")


def bind_call_sid(call_sid: str) -> None:
    """Attach a CallSid to the rest of this request's log lines (for code that learns it late)."""
    if call_sid:
        call_sid_var.set(call_sid[:64])


def call_sid_of(request: HttpRequest) -> str:
    """The CallSid a request is about, or "" when it names none."""
    if not request.path.startswith(CALL_PATH_PREFIX):
        return ""
    found = CALL_SID_IN_TEXT.search(request.path)
    if found:
        return found.group(0)
    if found := _first_call_sid(request.GET):
        return found
    if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
        try:
            return _first_call_sid(request.POST)
        except Exception:  # noqa: BLE001 - an oversized or broken body is the view's to reject, not ours
            return ""
    return ""


def _first_call_sid(params) -> str:
    return next((params[key] for key in CALL_SID_KEYS if params.get(key)), "")


# Requests that repeat on a timer while nothing new happens: Twilio fetching a waiting caller's hold music (the
# conference waitUrl, every ~10 s) and each open console's heartbeat. Their answers are logged at DEBUG when they
# succeed, so the request log says what changed; a failure is logged at INFO like any other request.
PERIODIC_PATH = re.compile(r"^/voicetwilio/(queuewait|agent/[^/]+/heartbeats)$")


def _level_for(path: str, status: int) -> int:
    return logging.DEBUG if status < 400 and PERIODIC_PATH.match(path) else logging.INFO


class CallContextMiddleware:
    """Binds the request id and CallSid for the request's log lines, and logs one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = (
            request.META.get(REQUEST_ID_HEADER) or request.META.get(TWILIO_REQUEST_ID_HEADER) or uuid.uuid4().hex
        )[:64]
        request_token = request_id_var.set(request_id)
        call_token = call_sid_var.set(call_sid_of(request)[:64])
        try:
            response = self.get_response(request)
            request_logger.log(
                _level_for(request.path, response.status_code),
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            call_sid_var.reset(call_token)
            request_id_var.reset(request_token)


class CallContextFilter(logging.Filter):
    """Copies the bound CallSid and request id onto every record (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "call_sid", ""):
            record.call_sid = call_sid_var.get()
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        return True


# Query parameters that carry a secret: the spec's GET form of the two-factor step puts the code and the
# preLoginToken in the URL, and a URL ends up in log lines (Django's development server logs the request line,
# a traceback may quote it). Their values never reach a log line.
SECRET_QUERY_PARAMETERS = ("code", "preLoginToken", "secretKey", "Verifiedtoken", "jwtToken", "token", "refresh")
_SECRET_IN_QUERY = re.compile(
    r"(?P<name>[?&;](?:" + "|".join(SECRET_QUERY_PARAMETERS) + r")=)[^&;#\s\"']*", re.IGNORECASE
)
SCRUBBED = "[scrubbed]"


def scrub_query_secrets(text: str) -> str:
    """`text` with the value of every secret query parameter replaced."""
    return _SECRET_IN_QUERY.sub(lambda found: found.group("name") + SCRUBBED, text)


class SecretQueryFilter(logging.Filter):
    """Rewrites a record whose message quotes a URL with a secret in its query string (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format is the formatter's to report, not ours
            return True
        scrubbed = scrub_query_secrets(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


# Attributes every LogRecord has; anything else on a record came from `extra=` and is printed as a field.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, call_sid, request_id, the `extra` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "call_sid": getattr(record, "call_sid", "") or call_sid_var.get(),
            "request_id": getattr(record, "request_id", "") or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """key=value lines for a developer's terminal, with the same call_sid and request_id fields."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s call_sid=%(call_sid)s request_id=%(request_id)s %(message)s"
        )

    def format(self, record: logging.LogRecord) -> str:
        # Other handlers see the same record: show "-" for a missing value without changing the record.
        saved = {key: vars(record).get(key, "") for key in ("call_sid", "request_id")}
        record.call_sid = saved["call_sid"] or call_sid_var.get() or "-"
        record.request_id = saved["request_id"] or request_id_var.get() or "-"
        try:
            return super().format(record)
        finally:
            record.call_sid, record.request_id = saved["call_sid"], saved["request_id"]
