"""Deploy checks (`manage.py check --deploy`): the URL Twilio signs and the headers that shape it; Twilio reachable
with our credentials and set up to call us.

A webhook's signature is checked against the public URL Twilio called (decision 2). Without
TWILIO_WEBHOOK_BASE_URL that URL is rebuilt from the request: its Host header and its scheme. The scheme comes from
X-Forwarded-Proto only when a proxy listed in GUNICORN_FORWARDED_ALLOW_IPS sent it (voice_project/settings.py), so
a client cannot claim https over plain HTTP; but production should not depend on the request at all.

The Twilio check is deploy-only (tagged `deploy`) because it asks Twilio; a plain `check` or the test suite never does.
"""

import os

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from . import gateway
from .provisioning import check_application

# gunicorn.conf.py's default: only a proxy on this host may say the request arrived over https.
GUNICORN_FORWARDED_DEFAULT = "127.0.0.1,::1"


@register(Tags.security, deploy=True)
def check_public_webhook_url(app_configs=None, **kwargs) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not settings.TWILIO_WEBHOOK_BASE_URL:
        messages.append(
            Warning(
                "TWILIO_WEBHOOK_BASE_URL is not set: webhook signatures are checked against a URL rebuilt from each "
                "request's Host and forwarded scheme.",
                hint="Set TWILIO_WEBHOOK_BASE_URL to the public https:// base URL that Twilio calls.",
                id="voicetwilio.W001",
            )
        )
    if getattr(settings, "TRUST_X_FORWARDED_PROTO", False):
        messages.append(
            Warning(
                "DJANGO_TRUST_X_FORWARDED_PROTO is on: Django believes X-Forwarded-Proto from any client.",
                hint="Leave it off and list your proxies in GUNICORN_FORWARDED_ALLOW_IPS instead, unless the server "
                "in front strips the header from every client.",
                id="voicetwilio.W002",
            )
        )
    if os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", GUNICORN_FORWARDED_DEFAULT).strip() == "*":
        messages.append(
            Warning(
                "GUNICORN_FORWARDED_ALLOW_IPS is '*': any client may claim https with X-Forwarded-Proto.",
                hint="List only the addresses of the proxies in front of gunicorn.",
                id="voicetwilio.W003",
            )
        )
    return messages


@register(Tags.compatibility, deploy=True)
def twilio_ready(app_configs=None, **kwargs) -> list[Error]:
    if not settings.TWILIO_ACCOUNT_SID:
        return []  # no Twilio account configured: nothing to check (the API answers 503 for Twilio features)
    errors = []
    if settings.TWILIO_PROVISIONING and not settings.TWILIO_WEBHOOK_BASE_URL:
        errors.append(
            Error(
                "TWILIO_PROVISIONING is on but TWILIO_WEBHOOK_BASE_URL is empty: numbers would be pointed at "
                "http://127.0.0.1:8000.",
                hint="Set TWILIO_WEBHOOK_BASE_URL to the public https origin Twilio reaches us on, or "
                "TWILIO_PROVISIONING=0.",
                id="voicetwilio.E001",
            )
        )
    try:
        app = check_application(repair=False)
    except gateway.GatewayError as exc:
        if exc.twilio_status in (401, 403):
            message = f"Twilio refused our credentials (TWILIO_ACCOUNT_SID / auth token or API key): {exc.message}"
            return [*errors, Error(message, id="voicetwilio.E002")]
        return [
            *errors,
            Error(f"Twilio could not be asked about the TwiML application: {exc.message}", id="voicetwilio.E003"),
        ]
    if not app.ok:
        errors.append(
            Error(app.message, hint="Run `manage.py twilio_sync` to create or repair it.", id="voicetwilio.E004")
        )
    return errors
