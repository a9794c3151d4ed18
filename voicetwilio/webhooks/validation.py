"""Refuse a webhook request whose enum field holds a value Twilio never sends (issue 13 item 4).

The specification lists `callStatus` as an enum (queued, initiated, ringing, in-progress, completed, busy,
no-answer, canceled, failed). A value outside it is not Twilio talking (Twilio sends only those), so the request
is answered 400 before the view runs, and nothing is stored: no call, no status change, no call-log row.

The answer: for a client that asks `Accept: application/json`, the REST envelope
`{"error": "validation_error", "message": ..., "details": {"callStatus": [...]}}`; for a TwiML client (Twilio),
still a 400, with an empty TwiML document as the body (valid TwiML, like the 403 of a bad signature). Twilio
treats any 4xx on a call-flow URL as a failed request and asks the number's fallback URL, and ignores the body.
A missing value is not refused here: each view keeps its own default for an absent field.
"""

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from voiceconfig.models import CallStatus

from .. import twiml
from .http import TwilioParams, twiml_response, wants_json

# Twilio's field name -> the values it may carry. The camelCase spelling (`callStatus`) is read the same way.
WEBHOOK_ENUMS: dict[str, tuple[str, ...]] = {"CallStatus": tuple(CallStatus.values)}


def unknown_enum_values(request: HttpRequest) -> dict[str, str]:
    """Each enum field of the request whose (non-empty) value is not one of its values: {field: value}."""
    params = TwilioParams(request)
    found = {}
    for name, allowed in WEBHOOK_ENUMS.items():
        value = params.get(name)
        if value and value not in allowed:
            found[name] = value
    return found


def bad_enum_response(request: HttpRequest, unknown: dict[str, str]) -> HttpResponse:
    details = {
        name[:1].lower() + name[1:]: [f"{value!r} is not one of: {', '.join(WEBHOOK_ENUMS[name])}."]
        for name, value in unknown.items()
    }
    name, value = next(iter(unknown.items()))
    message = f"{name} {value!r} is not one of the values Twilio sends; nothing was stored."
    if wants_json(request):
        return JsonResponse({"error": "validation_error", "message": message, "details": details}, status=400)
    return twiml_response(request, twiml.empty(), status=400)


def reject_unknown_enums(view: Callable) -> Callable:
    """Decorate a webhook (under `twilio_webhook`, so the signature is checked first): 400 on an unknown enum."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        unknown = unknown_enum_values(request)
        if unknown:
            return bad_enum_response(request, unknown)
        return view(request, *args, **kwargs)

    return wrapper
