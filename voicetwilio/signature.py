"""Every Twilio-facing view is wrapped by `twilio_webhook`: signature check first, never a 500 after.

Decision 2: the X-Twilio-Signature header is checked on every request, DEBUG included, against the public URL
Twilio called (`links.signed_url`) and TWILIO_AUTH_TOKEN. Missing or wrong: 403.
Decision 3: an unexpected exception inside the view is logged and answered with valid TwiML (an apology and a
fallback route), because a 500 makes Twilio play "an application error has occurred" to the caller. The one
exception: when the database cannot be reached, nothing may be answered as if it were stored, so the answer is a
503 that Twilio retries or fails over on (`webhooks.outage`).
"""

import functools
import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from . import links
from .twiml import apology, empty
from .webhooks import fallback, outage
from .webhooks.http import error_json, twiml_response, wants_json

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
# The algorithms twilio-python computes (an unknown one is refused by its validate()).
HASH_ALGORITHMS = {"HMAC_SHA1", "HMAC_SHA256"}


def _signed_params(request: HttpRequest) -> dict | str | None:
    """What Twilio hashed besides the URL: the form fields, or the raw body of a JSON request.

    A JSON body is covered only through the `bodySHA256` query parameter (Twilio's scheme); a JSON body
    without it, or with an empty one (`?bodySHA256`), would be unsigned, so it is refused (None).
    """
    if request.content_type == JSON_CONTENT_TYPE:
        if not request.GET.get("bodySHA256"):
            return None
        return request.body.decode("utf-8", errors="replace")
    if request.method == "POST":
        return request.POST
    return {}


def signature_is_valid(request: HttpRequest) -> bool:
    """True only for a request Twilio signed; any surprise while checking counts as unsigned (403, never 500)."""
    try:
        return _signature_matches(request)
    except Exception:
        logger.exception("checking the signature of %s failed; refusing the request", request.path)
        return False


def _signature_matches(request: HttpRequest) -> bool:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    token = settings.TWILIO_AUTH_TOKEN
    if not signature:
        return False
    if not token:
        logger.error("TWILIO_AUTH_TOKEN is not set: every Twilio webhook is refused")
        return False
    params = _signed_params(request)
    if params is None:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    validator = RequestValidator(token)
    url = links.signed_url(request)
    if isinstance(params, dict | QueryDict) and algorithm.upper() in HASH_ALGORITHMS:
        # Twilio signs the URL exactly as configured, which is the URL we compute: one HMAC settles the common
        # case. twilio-python's validate() always computes two (the URL with and without a port) and is kept
        # for everything else: a URL Twilio signed with a port added or removed, or a JSON body's bodySHA256.
        expected = validator.compute_signature(url, params, algorithm)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return True
    return validator.validate(url, params, signature, algorithm)


def _forbidden(request: HttpRequest) -> HttpResponse:
    message = "This URL only answers Twilio: the X-Twilio-Signature header is missing or wrong."
    if wants_json(request):
        return error_json(403, "invalid_signature", message)
    return twiml_response(request, empty(), status=403)


def twilio_webhook(view: Callable | None = None, *, on_error: Callable[[HttpRequest], str] | None = None) -> Callable:
    """Decorate a view that Twilio calls. `on_error(request) -> TwiML` replaces the default apology.

    Views return a TwiML string (rendered as text/xml, or {"data": ...} for Accept: application/json)
    or an HttpResponse.
    """

    def decorate(func: Callable) -> Callable:
        @csrf_exempt
        @require_http_methods(["GET", "POST"])
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not signature_is_valid(request):
                logger.warning("rejected webhook with a missing or invalid signature: %s", request.path)
                return _forbidden(request)
            try:
                result = func(request, *args, **kwargs)
            except Exception as error:
                if outage.refuses(request, error):
                    return outage.database_unavailable(request, error)
                logger.exception("webhook %s failed; answering Twilio with apology TwiML", request.path)
                try:
                    result = on_error(request) if on_error else _default_error_twiml(request)
                except Exception:
                    logger.exception("the error answer of %s failed too", request.path)
                    result = apology(fallback_url="")
            if isinstance(result, HttpResponse):
                return result
            return twiml_response(request, result)

        return wrapper

    return decorate(view) if view is not None else decorate


def _default_error_twiml(request: HttpRequest) -> str:
    return apology(fallback_url=fallback.fallback_url_for_request(request, _call_sid(request)))


def _call_sid(request: HttpRequest) -> str:
    return request.GET.get("callSid") or request.POST.get("CallSid") or request.POST.get("callSid") or ""
