from django.apps import AppConfig


class VoicetwilioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "voicetwilio"
    verbose_name = "Voice Twilio edge"
