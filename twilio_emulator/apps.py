from django.apps import AppConfig


class TwilioEmulatorConfig(AppConfig):
    """Only for its management commands (twilio_emulator, simulate_call); it has no models."""

    name = "twilio_emulator"
    verbose_name = "Local Twilio emulator"
