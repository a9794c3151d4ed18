from django.apps import AppConfig


class VoicetwilioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "voicetwilio"
    verbose_name = "Voice Twilio edge"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the deploy checks
