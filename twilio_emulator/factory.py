"""Putting an emulator together: the shared credentials, the app's webhook paths, the world and its server."""

from collections.abc import Iterable
from dataclasses import dataclass

from . import ACCOUNT_SID, API_KEY_SECRET, API_KEY_SID, AUTH_TOKEN, TWIML_APP_SID
from .account import Application
from .clock import Clock
from .people import Directory
from .rest import EmulatorServer
from .world import NumberConfig, World

# Where Twilio's console would point every number of the account (voicetwilio/webhook_urls.py).
VOICE_PATH = "/voicetwilio/voice"
FALLBACK_PATH = "/voicetwilio/fallback"
STATUS_CALLBACK_PATH = "/voicetwilio/statuscallback"


@dataclass(frozen=True)
class Credentials:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    api_key_sid: str = API_KEY_SID
    api_key_secret: str = API_KEY_SECRET
    twiml_app_sid: str = TWIML_APP_SID

    @classmethod
    def from_settings(cls, settings) -> "Credentials":
        """The project's Twilio settings when an account is configured, else the emulator's own."""
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            return cls()
        return cls(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            api_key_sid=settings.TWILIO_API_KEY_SID or "",
            api_key_secret=settings.TWILIO_API_KEY_SECRET or "",
            twiml_app_sid=getattr(settings, "TWILIO_TWIML_APP_SID", "") or TWIML_APP_SID,
        )

    def env(self, emulator_url: str) -> dict[str, str]:
        """The environment that points the app at the emulator: TWILIO_API_BASE_URL plus these credentials."""
        return {
            "TWILIO_API_BASE_URL": emulator_url,
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_KEY_SID": self.api_key_sid,
            "TWILIO_API_KEY_SECRET": self.api_key_secret,
            "TWILIO_TWIML_APP_SID": self.twiml_app_sid,
        }


def build(
    *,
    app_url: str,
    credentials: Credentials | None = None,
    virtual: bool = True,
    speed: float = 1.0,
    host: str = "127.0.0.1",
    port: int = 0,
    directory: Directory | None = None,
    play_seconds: float = 10.0,
    webhook_timeout: float = 15.0,
    account_numbers: Iterable[str] | None = None,
    provisioned: bool = True,
) -> EmulatorServer:
    """A world and the HTTP server in front of it.

    By default every number rings the app's voice webhook (the tests' and scenarios' shortcut). With
    `account_numbers`, the account owns exactly those numbers and each routes by its own configuration, as at
    Twilio: already pointing at the app when `provisioned` (as a past `twilio_sync` left them), else blank until
    the app provisions them; a call to any other number is refused.
    """
    credentials = credentials or Credentials()
    app_url = app_url.rstrip("/")
    app_number = NumberConfig(
        voice_url=app_url + VOICE_PATH,
        fallback_url=app_url + FALLBACK_PATH,
        status_callback=app_url + STATUS_CALLBACK_PATH,
    )
    api_keys = {credentials.api_key_sid: credentials.api_key_secret} if credentials.api_key_sid else {}
    world = World(
        clock=Clock(virtual=virtual, speed=speed),
        account_sid=credentials.account_sid,
        auth_token=credentials.auth_token,
        api_keys=api_keys,
        app_url=app_url,
        default_number=app_number if account_numbers is None else None,
        directory=directory or Directory(),
        play_seconds=play_seconds,
        webhook_timeout=webhook_timeout,
    )
    # The softphone's TwiML application the credentials name, asking the app's voice webhook.
    world.applications[credentials.twiml_app_sid] = Application(
        friendly_name="Voice softphone", sid=credentials.twiml_app_sid, voice_url=app_url + VOICE_PATH
    )
    for phone_number in account_numbers or ():
        world.own_number(phone_number, app_number if provisioned else None)
    return EmulatorServer(world, host=host, port=port)
