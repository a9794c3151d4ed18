from django.apps import AppConfig


class VoicetwilioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "voicetwilio"
    verbose_name = "Voice Twilio edge"

    def ready(self) -> None:
        # voiceconfig saves lines but never imports voicetwilio: hand it the one thing that talks to Twilio.
        from voiceconfig import line_numbers

        from . import checks  # noqa: F401  (registers the deploy checks)
        from .provisioning import TwilioProvisioner

        line_numbers.register(TwilioProvisioner())
