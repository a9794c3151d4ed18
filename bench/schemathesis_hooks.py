"""schemathesis hooks for `make api-fuzz` (loaded through SCHEMATHESIS_HOOKS=bench.schemathesis_hooks).

Sign the requests to Twilio-facing URLs as Twilio would, so the fuzzer reaches the webhooks' logic instead of
stopping at the signature check. A case whose X-Twilio-Signature header the fuzzer left out (a negative case) is
sent unsigned and must get the documented 403.

The signature is computed over the request exactly as it will be sent: schemathesis serializes the case, requests
prepares it (URL with its encoded query, form body), and the HMAC covers that URL and the body's fields
(twilio-python's RequestValidator, the same code the server checks with). The server must sign-check against the
URL the fuzzer calls: bench/common.py sets TWILIO_WEBHOOK_BASE_URL to the server's own address.
"""

import os
from urllib.parse import parse_qsl

import requests
import schemathesis
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"
TOKEN_ENV = "VOICE_FUZZ_TWILIO_AUTH_TOKEN"


class _Form(dict):
    """Form fields by name, each with all its values (what RequestValidator reads through getlist)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def _form_fields(body: bytes | str | None) -> _Form:
    if body is None:
        return _Form()
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    fields = _Form()
    for name, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return fields


def sign(prepared: requests.PreparedRequest, token: str) -> str:
    """Twilio's signature of a request as it goes on the wire: its URL and its form body's fields."""
    return RequestValidator(token).compute_signature(prepared.url, _form_fields(prepared.body))


def signature_for(case) -> str:
    sent = case.as_transport_kwargs()
    prepared = requests.Request(
        method=sent["method"],
        url=sent["url"],
        params=sent.get("params"),
        data=sent.get("data"),
        headers=sent["headers"],
    ).prepare()
    return sign(prepared, os.environ[TOKEN_ENV])


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    if case.headers and SIGNATURE_HEADER in case.headers and os.environ.get(TOKEN_ENV):
        case.headers[SIGNATURE_HEADER] = signature_for(case)
