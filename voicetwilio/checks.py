"""`manage.py check --deploy`: Twilio is reachable with our credentials and set up to call us.

Deploy-only (tagged `deploy`) because it asks Twilio; a plain `check` or the test suite never does.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

from . import gateway
from .provisioning import check_application


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
