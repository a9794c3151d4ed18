"""Deploy checks (`manage.py check --deploy`) for the URL Twilio signs and the headers that shape it.

A webhook's signature is checked against the public URL Twilio called (decision 2). Without
TWILIO_WEBHOOK_BASE_URL that URL is rebuilt from the request: its Host header and its scheme. The scheme comes from
X-Forwarded-Proto only when a proxy listed in GUNICORN_FORWARDED_ALLOW_IPS sent it (voice_project/settings.py), so
a client cannot claim https over plain HTTP; but production should not depend on the request at all.
"""

import os

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

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
