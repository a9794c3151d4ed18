"""Lines that configure Twilio themselves (issue 15): attach, buy, check, repair, release.

A line's number must send its calls to our three webhooks. They are the same for every line (the voice webhook
finds the line by the called number), so pointing a number at us before its line is saved is harmless: the
order everywhere is decide, call Twilio, then save, and no database transaction is open while Twilio answers.
"""

from dataclasses import dataclass

from django.conf import settings

from voiceconfig.line_numbers import LineState, NumberAnsweredByApplication, NumberNotOnAccount
from voiceconfig.models import PhoneLine

from . import gateway
from .gateway import IncomingNumber, NumberUrls
from .links import webhook_url
from .webhooks.fallback import fallback_url

# The name the sync gives the softphone's TwiML application when it creates one (and finds it by next time).
SOFTPHONE_APP_NAME = "Voice softphone"


def wanted_urls(line: PhoneLine | None = None) -> NumberUrls:
    """The URLs a line's number must carry, on our public base URL (TWILIO_WEBHOOK_BASE_URL).

    Built by the same functions as every other webhook URL (links.webhook_url): the status callback carries the
    event callbacks' retry overrides, and the fallback URL is `fallback.fallback_url(line)`, the one
    `manage.py webhook_urls` prints, with the query string (forward number, voicemail, voice, language) it answers
    from while the database is down. So a line whose config changes drifts, and `twilio_sync` repairs it. Without a
    line (a number bought before its line exists) the bare fallback URL, until the line is saved.

    Never the origin of an admin's request: the admin page, the REST API and the sync must all want the same
    URLs, or each would call the others' work drift. Without the setting it is links' development default.
    """
    has_config = line is not None and line.config_id is not None
    return NumberUrls(
        voice_url=webhook_url("voice"),
        voice_fallback_url=fallback_url(line) if has_config else webhook_url("fallback"),
        status_callback=webhook_url("statuscallback"),
    )


def softphone_voice_url() -> str:
    return webhook_url("voice")


URL_NAMES = {"voice_url": "VoiceUrl", "voice_fallback_url": "VoiceFallbackUrl", "status_callback": "StatusCallback"}


@dataclass(frozen=True)
class Drift:
    """One URL of a number that is not what we want: Twilio's parameter name, what it is, what it should be."""

    name: str
    found: str
    wanted: str

    def __str__(self) -> str:
        return f"{self.name} {self.found or '(empty)'} -> {self.wanted}"


def drifts(number: IncomingNumber, wanted: NumberUrls) -> list[Drift]:
    found = [
        Drift(name, getattr(number.urls, field), getattr(wanted, field))
        for field, name in URL_NAMES.items()
        if getattr(number.urls, field) != getattr(wanted, field)
    ]
    if number.voice_application_sid:
        found.append(Drift("VoiceApplicationSid", number.voice_application_sid, "(none)"))
    return found


def state_of(phone_number: str, number: IncomingNumber | None, wanted: NumberUrls) -> LineState:
    if not phone_number:
        return LineState("no-number", "No number")
    if number is None:
        return LineState("not-on-account", "Not on the account", f"{phone_number} is not a number of this account.")
    found = drifts(number, wanted)
    if found:
        return LineState("drifted", "Drifted", "; ".join(str(drift) for drift in found))
    return LineState("in-sync", "In sync")


def not_on_account(phone_number: str) -> NumberNotOnAccount:
    return NumberNotOnAccount(
        f"{phone_number} is not one of the Twilio account's phone numbers: buy it from the number search, "
        "or move it to the account in Twilio's console, then save the line again."
    )


def answered_by_application(number: IncomingNumber) -> NumberAnsweredByApplication:
    return NumberAnsweredByApplication(
        f"{number.phone_number} is answered by the TwiML application {number.voice_application_sid}, which "
        "overrides its voice URL: remove the application from the number in Twilio's console, then save again."
    )


def attach(*, phone_number: str, line: PhoneLine | None = None) -> IncomingNumber:
    """Point the account's number at us in exactly one update (after one lookup); return it as Twilio now has it."""
    number = gateway.find_incoming_number(phone_number=phone_number)
    if number is None:
        raise not_on_account(phone_number)
    if number.voice_application_sid:
        raise answered_by_application(number)
    return gateway.configure_incoming_number(sid=number.sid, urls=wanted_urls(line))


def numbers_by_phone_number() -> dict[str, IncomingNumber]:
    """The account's numbers in one listing: what a whole admin page or sync run compares against."""
    return {number.phone_number: number for number in gateway.list_incoming_numbers()}


class TwilioProvisioner:
    """What voiceconfig calls (voiceconfig.line_numbers.Provisioner), registered in VoicetwilioConfig.ready."""

    def attach(self, *, phone_number: str, line: PhoneLine | None = None) -> str:
        return attach(phone_number=phone_number, line=line).sid

    def buy(self, *, phone_number: str, friendly_name: str = "") -> str:
        return gateway.buy_number(phone_number=phone_number, urls=wanted_urls(), friendly_name=friendly_name).sid

    def release(self, *, sid: str) -> None:
        gateway.release_number(sid=sid)

    def states(self, lines: list) -> dict[int, LineState]:
        """One listing of the account's numbers for all `lines`; a Twilio failure makes every state unknown."""
        try:
            numbers = numbers_by_phone_number()
        except gateway.GatewayError as exc:
            return {line.pk: LineState("unknown", "Unknown", exc.message) for line in lines}
        return {
            line.pk: state_of(line.phone_number, numbers.get(line.phone_number), wanted_urls(line)) for line in lines
        }


@dataclass(frozen=True)
class ApplicationCheck:
    ok: bool
    message: str
    created_sid: str = ""


def check_application(*, repair: bool) -> ApplicationCheck:
    """The softphone's TwiML application (TWILIO_TWIML_APP_SID): exists and asks our voice URL.

    With `repair`, a wrong voice URL is set right, and an empty setting gets an application (found by name
    first, so running twice creates one) whose SID must then go into the environment.
    """
    voice_url = softphone_voice_url()
    sid = settings.TWILIO_TWIML_APP_SID
    if not sid:
        if not repair:
            return ApplicationCheck(False, "TWILIO_TWIML_APP_SID is empty: agents' softphones cannot place calls.")
        app = gateway.find_application(friendly_name=SOFTPHONE_APP_NAME) or gateway.create_application(
            friendly_name=SOFTPHONE_APP_NAME, voice_url=voice_url
        )
        if app.voice_url != voice_url:
            app = gateway.set_application_voice_url(sid=app.sid, voice_url=voice_url)
        return ApplicationCheck(
            True, f"TwiML application {app.sid} ({SOFTPHONE_APP_NAME}): set TWILIO_TWIML_APP_SID={app.sid}", app.sid
        )
    app = gateway.fetch_application(sid=sid)
    if app is None:
        return ApplicationCheck(False, f"TWILIO_TWIML_APP_SID={sid} is not a TwiML application of the account.")
    if app.voice_url == voice_url:
        return ApplicationCheck(True, "")
    if not repair:
        return ApplicationCheck(
            False, f"TwiML application {sid} sends calls to {app.voice_url or '(no voice URL)'}, not {voice_url}."
        )
    gateway.set_application_voice_url(sid=sid, voice_url=voice_url)
    return ApplicationCheck(True, f"TwiML application {sid}: VoiceUrl {app.voice_url or '(empty)'} -> {voice_url}")
