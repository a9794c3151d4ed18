"""Requests to the app, made exactly as Twilio makes them: form-encoded, signed with X-Twilio-Signature.

The signature is twilio-python's RequestValidator algorithm (HMAC-SHA1 of the URL followed by each POST
parameter name and value in name order, keyed with the auth token, base64), computed over the exact URL
requested; for GET the parameters travel in that URL's query string and are covered by it.
"""

import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from twilio.request_validator import RequestValidator

USER_AGENT = "TwilioProxy/1.1 (local emulator)"


@dataclass
class Answer:
    status: int
    content_type: str
    text: str
    error: str = ""  # set when there was no HTTP answer at all (refused, timed out)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and 200 <= self.status < 300


class WebhookClient:
    def __init__(self, *, auth_token: str, timeout: float = 15.0):
        self.validator = RequestValidator(auth_token)
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def signed(self, url: str, method: str, params: dict[str, str]) -> tuple[str, dict[str, str], str]:
        """The URL to request, the form body and the X-Twilio-Signature header, as Twilio would send them."""
        # A fragment holds Twilio's connection overrides (`#rc=3&rp=5xx`): Twilio reads it, never sends it, and
        # signs the URL it requests. (The emulator does not retry; it only drops the fragment.)
        url = url.split("#", 1)[0]
        if method.upper() == "GET":
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
            full = urlunsplit(parts._replace(query=urlencode(query)))
            return full, {}, self.validator.compute_signature(full, {})
        return url, params, self.validator.compute_signature(url, params)

    def request(self, url: str, method: str, params: dict[str, str]) -> Answer:
        method = (method or "POST").upper()
        target, body, signature = self.signed(url, method, params)
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": USER_AGENT,
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "Accept": "*/*",
        }
        started = time.monotonic()
        try:
            response = self._session().request(
                method,
                target,
                data=body if method != "GET" else None,
                headers=headers,
                timeout=self.timeout,
                # Twilio would follow a redirect, but the signed URL would then be wrong: show it as a bug.
                allow_redirects=False,
            )
        except requests.Timeout:
            return Answer(0, "", "", error=f"no answer within {self.timeout:g} s (Twilio error 11205)")
        except requests.RequestException as exc:
            return Answer(0, "", "", error=f"could not connect: {exc.__class__.__name__} (Twilio error 11200)")
        return Answer(
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            text=response.text,
            seconds=time.monotonic() - started,
        )
