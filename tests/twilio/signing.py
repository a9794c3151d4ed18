"""Sign test requests exactly as Twilio signs its webhooks (X-Twilio-Signature, HMAC-SHA1 of URL + sorted params)."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.test import Client
from twilio.request_validator import RequestValidator

from voicetwilio.webhook_urls import urlpatterns as _webhook_urlpatterns

TEST_SERVER = "http://testserver"

# Every URL Twilio calls, by URL name, read from voicetwilio/webhook_urls.py so a new webhook is covered by the
# signature and fuzz tests without anyone remembering to list it.
WEBHOOK_NAMES: list[str] = [pattern.name for pattern in _webhook_urlpatterns]


def twilio_signature(url: str, params: dict, token: str | None = None) -> str:
    return RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)


def signed_post(
    client: Client,
    path: str,
    params: dict | None = None,
    *,
    query: dict | None = None,
    accept: str = "",
    token: str | None = None,
    base_url: str = TEST_SERVER,
    **extra,
):
    """POST `params` as Twilio's form body to `path` (+ `query`), signed with the test auth token.

    `path` may already carry a query string (as the URLs our TwiML hands to Twilio do); `base_url` is the
    origin Twilio would have called (the Django test client's is http://testserver).
    """
    params = {key: str(value) for key, value in (params or {}).items()}
    # Twilio's connection overrides (`#rc=...`) are read by Twilio: it neither sends nor signs the fragment.
    path = path.split("#", 1)[0]
    if query:
        path = f"{path}{'&' if '?' in path else '?'}{urlencode(query)}"
    if path.startswith(("http://", "https://")):
        # An absolute URL (from our TwiML): Twilio signs it as written.
        parts = urlsplit(path)
        base_url = f"{parts.scheme}://{parts.netloc}"
        path = path[len(base_url) :]
    full_url = base_url + path
    headers = {"HTTP_X_TWILIO_SIGNATURE": twilio_signature(full_url, params, token)}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    return client.post(path, params, **headers, **extra)
