from django.apps import AppConfig


class VoiceconfigConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "voiceconfig"
    verbose_name = "Voice configuration"
