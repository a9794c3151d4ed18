"""One error shape for the whole REST API (decision 13): {"error": ..., "message": ...}.

`error` is a short machine-readable code, `message` a sentence for a person; validation errors add
`details` with the per-field messages. Nothing a client sends may turn into a 500.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, JsonResponse
from djangorestframework_camel_case.util import camelize_re, underscore_to_camel
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """The request is well formed but the current state forbids it (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The resource's current state does not allow this."


_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    502: "twilio_error",
    503: "twilio_not_configured",
    415: "unsupported_media_type",
    429: "throttled",
}


def envelope(status_code: int, message: str, error: str | None = None, **extra: Any) -> dict:
    body = {"error": error or _CODES.get(status_code, "error"), "message": message}
    body.update(extra)
    return body


def _camel(key: Any) -> str:
    # Field names in messages as the client writes them (camelCase, decision 12).
    return camelize_re.sub(underscore_to_camel, key) if isinstance(key, str) else str(key)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            # simplejwt's token errors: {"detail": ..., "code": ..., "messages": [...]}.
            return _first_message(detail["detail"])
        for key, value in detail.items():
            text = _first_message(value)
            return text if key == "non_field_errors" else f"{_camel(key)}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _error_code(exc: exceptions.APIException, status_code: int) -> str | None:
    explicit = getattr(exc, "error_code", None)
    if explicit:
        return explicit
    if isinstance(exc.detail, dict) and isinstance(exc.detail.get("code"), str):
        return exc.detail["code"]  # simplejwt: "token_not_valid", "user_not_found", ...
    return _CODES.get(status_code)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        exc = Conflict(f"It is still in use and cannot be deleted: {exc.args[0]}")
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        # Too many fields, a malformed multipart body: Django refuses it as suspicious; for us it is bad input.
        exc = exceptions.ParseError("The request is malformed.")
    elif isinstance(exc, (DataError, OverflowError)) or (isinstance(exc, ValueError) and "NUL" in str(exc)):
        # Out-of-range numbers or NUL bytes that reached the database: the client's input, not our fault.
        exc = exceptions.ValidationError("A value is out of range or contains characters that cannot be stored.")
    elif hasattr(exc, "api_status"):
        # An upstream failure (Twilio) that declares what the API should answer: 502 or 503.
        upstream = exceptions.APIException(getattr(exc, "message", str(exc)))
        upstream.status_code = exc.api_status
        upstream.error_code = exc.api_error
        upstream.extra = getattr(exc, "api_extra", {})
        exc = upstream
    elif isinstance(exc, IntegrityError):
        logger.warning("integrity error turned into 409: %s", exc)
        exc = Conflict("The change conflicts with data stored meanwhile; reload and try again.")

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = envelope(400, _first_message(exc.detail), "validation_error", details=error_details(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        message = _first_message(exc.detail)
        code = _error_code(exc, response.status_code)
        extra = dict(getattr(exc, "extra", None) or {})
        if "details" in extra:
            extra["details"] = error_details(extra["details"])
        response.data = envelope(response.status_code, message, code, **extra)
    return response


NON_FIELD_ERRORS = "nonFieldErrors"
_NON_FIELD_KEYS = {"non_field_errors", NON_FIELD_ERRORS, api_settings.NON_FIELD_ERRORS_KEY}


def error_details(detail: Any) -> dict[str, list[str]]:
    """The one shape of `details`: camelCase field name (or `nonFieldErrors`) -> a list of sentences.

    DRF gives a list for errors of the whole request, a string or a list per field, nested dicts and lists for
    nested serializers; clients should not have to handle each. A nested field's sentences name their place
    (`0.digit: ...`), so nothing is lost in the flattening.
    """
    if not isinstance(detail, dict):
        return {NON_FIELD_ERRORS: _sentences(detail)}
    details: dict[str, list[str]] = {}
    for key, value in detail.items():
        name = NON_FIELD_ERRORS if key in _NON_FIELD_KEYS else _camel(key)
        details.setdefault(name, []).extend(_sentences(value))
    return details


def _sentences(value: Any, place: str = "") -> list[str]:
    prefix = f"{place}: " if place else ""
    if isinstance(value, dict):
        return [
            sentence
            for key, nested in value.items()
            for sentence in _sentences(nested, _join(place, "" if key in _NON_FIELD_KEYS else _camel(key)))
        ]
    if isinstance(value, (list, tuple)):
        if all(not isinstance(item, (dict, list, tuple)) for item in value):
            return [f"{prefix}{item}" for item in value]
        return [sentence for index, item in enumerate(value) for sentence in _sentences(item, _join(place, str(index)))]
    return [f"{prefix}{value}"]


def _join(place: str, key: str) -> str:
    return ".".join(part for part in (place, key) if part)


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(envelope(404, f"No such resource: {request.path}"), status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        envelope(500, "Something went wrong on our side; it has been logged.", "server_error"), status=500
    )
