"""The one door to Twilio's REST API. Nothing else in the project imports `twilio.rest`.

Every method states an intent (add this agent to that conference, hold that participant), takes
keyword-only plain values, returns plain values, and turns every Twilio or network failure into a
GatewayError (the REST API answers 502, or 503 when Twilio is not configured). Every request has a
timeout (TWILIO_HTTP_TIMEOUT). TWILIO_API_BASE_URL points the client at any Twilio-compatible server
(a mock, the local emulator) through twilio-python's documented `http_client=` hook.

tests/contract drives every public function here through the real twilio-python client against
Prism serving Twilio's own OpenAPI description; a new function needs a contract test there too.
"""

import json
import logging
from dataclasses import dataclass
from functools import lru_cache

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

logger = logging.getLogger(__name__)

TWILIO_API_ORIGIN = "https://api.twilio.com"


class GatewayError(Exception):
    """Twilio refused or failed a request. `api_status` is what our REST API answers."""

    api_status = 502
    api_error = "twilio_error"

    def __init__(self, message: str, *, twilio_code: int | None = None, twilio_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.twilio_code = twilio_code
        self.twilio_status = twilio_status

    @property
    def api_extra(self) -> dict:
        extra: dict = {}
        if self.twilio_code:
            extra["twilioCode"] = self.twilio_code
        if self.twilio_status:
            extra["twilioStatus"] = self.twilio_status
        return extra


class GatewayNotConfigured(GatewayError):
    api_status = 503
    api_error = "twilio_not_configured"


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends twilio-python's requests to `base_url` instead of api.twilio.com, with a fixed timeout."""

    def __init__(self, *, base_url: str, timeout: float):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_API_ORIGIN):
            url = self.base_url + url[len(TWILIO_API_ORIGIN) :]
        return super().request(method, url, *args, **kwargs)


@lru_cache(maxsize=4)
def _client_for(account_sid: str, username: str, password: str, base_url: str, timeout: float) -> Client:
    # One client (and one pooled HTTP session) per distinct configuration, reused across requests.
    http_client = BaseUrlHttpClient(base_url=base_url, timeout=timeout)
    return Client(username=username, password=password, account_sid=account_sid, http_client=http_client)


def client() -> Client:
    account_sid = settings.TWILIO_ACCOUNT_SID
    if settings.TWILIO_API_KEY_SID and settings.TWILIO_API_KEY_SECRET:
        username, password = settings.TWILIO_API_KEY_SID, settings.TWILIO_API_KEY_SECRET
    else:
        username, password = account_sid, settings.TWILIO_AUTH_TOKEN
    if not (account_sid and username and password):
        raise GatewayNotConfigured(
            "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or an API key)."
        )
    return _client_for(account_sid, username, password, settings.TWILIO_API_BASE_URL, settings.TWILIO_HTTP_TIMEOUT)


def _as_rest_exception(exc: TwilioException) -> TwilioException:
    """twilio-python reports a failed list page as TwilioException("Unable to fetch page", response): read it."""
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    if status is None:
        return exc
    message, code = str(exc.args[0]), status
    try:
        payload = json.loads(response.text)
        message = f"{message}: {payload['message']}" if payload.get("message") else message
        code = payload.get("code") or status
    except (ValueError, AttributeError, TypeError):
        pass
    return TwilioRestException(status, "", msg=message, code=code)


class _translate_errors:
    """Context manager: any Twilio or network failure inside becomes a GatewayError naming the action."""

    def __init__(self, action: str):
        self.action = action

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, GatewayError):
            return False
        if isinstance(exc, TwilioException) and not isinstance(exc, TwilioRestException):
            exc = _as_rest_exception(exc)
        if isinstance(exc, TwilioRestException):
            # twilio-python puts the HTTP status in `code` when the body carried no Twilio error code.
            code = exc.code if exc.code and exc.code != exc.status else None
            logger.warning("twilio refused to %s: HTTP %s, code %s: %s", self.action, exc.status, exc.code, exc.msg)
            raise GatewayError(
                f"Twilio refused to {self.action} (HTTP {exc.status}{f', error {code}' if code else ''}): {exc.msg}",
                twilio_code=code,
                twilio_status=exc.status,
            ) from exc
        if isinstance(exc, TwilioServiceException):
            logger.warning("twilio refused to %s: HTTP %s, code %s: %s", self.action, exc.status, exc.code, exc.title)
            detail = f"{exc.title}: {exc.detail}" if exc.detail else exc.title
            raise GatewayError(
                f"Twilio refused to {self.action} (HTTP {exc.status}, error {exc.code}): {detail}",
                twilio_code=exc.code,
                twilio_status=exc.status,
            ) from exc
        if isinstance(exc, requests.Timeout):
            logger.warning("twilio timed out during %s", self.action)
            raise GatewayError(
                f"Twilio did not answer within {settings.TWILIO_HTTP_TIMEOUT:g} s while trying to {self.action}."
            ) from exc
        if isinstance(exc, (requests.RequestException, TwilioException)):
            logger.warning("twilio unreachable during %s: %s", self.action, exc)
            raise GatewayError(f"Twilio could not be reached to {self.action}: {exc}") from exc
        if isinstance(exc, json.JSONDecodeError):
            # An answer that is not the JSON Twilio documents (a proxy's HTML error page, a truncated body).
            logger.warning("unreadable twilio answer during %s: %s", self.action, exc)
            raise GatewayError(f"Twilio gave an unreadable answer while trying to {self.action}.") from exc
        return False


@dataclass(frozen=True)
class Participant:
    call_sid: str
    conference_sid: str


# The participant events we ask Twilio to report on an agent's or transferee's leg.
PARTICIPANT_EVENTS = ["initiated", "ringing", "answered", "completed"]


def add_participant(
    *,
    conference_name: str,
    to: str,
    from_: str,
    status_callback_url: str,
    timeout_seconds: int,
    label: str = "",
    end_conference_on_exit: bool = False,
) -> Participant:
    """Dial `to` (a number or `client:identity`) into the conference; return the new leg's SIDs.

    `conference_name` may be the conference's friendly name (our call's conference name) or its CF SID.
    Early media lets the people already in the conference hear the new leg ringing.
    """
    with _translate_errors("add a participant to the conference"):
        participant = (
            client()
            .conferences(conference_name)
            .participants.create(
                from_=from_,
                to=to,
                timeout=timeout_seconds,
                status_callback=status_callback_url,
                status_callback_method="POST",
                status_callback_event=PARTICIPANT_EVENTS,
                early_media=True,
                beep="false",
                end_conference_on_exit=end_conference_on_exit,
                label=label or None,
            )
        )
    return Participant(call_sid=participant.call_sid, conference_sid=participant.conference_sid)


def set_participant_hold(*, conference_sid: str, call_sid: str, hold: bool, hold_url: str = "") -> None:
    """Put a conference participant on hold (hearing `hold_url`) or bring them back."""
    action = "put the caller on hold" if hold else "take the caller off hold"
    with _translate_errors(action):
        kwargs = {"hold": hold}
        if hold and hold_url:
            kwargs.update(hold_url=hold_url, hold_method="GET")
        client().conferences(conference_sid).participants(call_sid).update(**kwargs)


def announce_to_participant(*, conference_sid: str, call_sid: str, announce_url: str) -> None:
    """Play `announce_url`'s TwiML (<Say>/<Play>) to one participant of the conference (the Participants API's
    AnnounceUrl; creating a participant takes no TwiML, so a dialled customer is told this way once they answer)."""
    with _translate_errors("make an announcement to the participant"):
        client().conferences(conference_sid).participants(call_sid).update(
            announce_url=announce_url, announce_method="POST"
        )


def set_participant_ends_conference(*, conference_sid: str, call_sid: str, end_conference_on_exit: bool) -> None:
    """Decide whether this participant leaving ends the conference for everyone.

    A transfer turns it off on the departing agent's leg first, so the caller stays with the new party.
    """
    with _translate_errors("change how the conference ends"):
        client().conferences(conference_sid).participants(call_sid).update(
            end_conference_on_exit=end_conference_on_exit
        )


def remove_participant(*, conference_sid: str, call_sid: str) -> None:
    """Take one participant out of a conference (their leg hangs up)."""
    with _translate_errors("remove a participant from the conference"):
        client().conferences(conference_sid).participants(call_sid).delete()


def redirect_call(*, call_sid: str, url: str) -> None:
    """Make a live call fetch new TwiML from `url`."""
    with _translate_errors("redirect the call"):
        client().calls(call_sid).update(url=url, method="POST")


def end_call(*, call_sid: str) -> None:
    """Hang up a live call (or cancel one still ringing)."""
    with _translate_errors("end the call"):
        client().calls(call_sid).update(status="completed")


def end_conference(*, conference_sid: str) -> None:
    """End a conference: every participant still in it (the agent's leg, a transfer's leg) is hung up."""
    with _translate_errors("end the conference"):
        client().conferences(conference_sid).update(status="completed")


# Our API's names for Twilio's number types, and the twilio-python list each maps to.
NUMBER_KINDS = {"local": "local", "tollFree": "toll_free", "mobile": "mobile"}


@dataclass(frozen=True)
class AvailableNumber:
    phone_number: str
    friendly_name: str
    country_code: str
    locality: str
    region: str
    postal_code: str
    address_requirements: str
    beta: bool
    voice: bool
    sms: bool
    mms: bool
    fax: bool


def _capability(capabilities: dict | None, name: str) -> bool:
    # Twilio's examples write "sms", its live API "SMS": read either.
    lowered = {str(key).lower(): value for key, value in (capabilities or {}).items()}
    return bool(lowered.get(name, False))


def search_available_numbers(
    *, country_code: str, kind: str = "local", area_code: str = "", contains: str = "", limit: int = 20
) -> list[AvailableNumber]:
    """Voice-capable numbers Twilio has for sale in a country (one page of at most `limit`).

    A country Twilio sells no numbers in answers 404 there; that is an empty list here, not a failure.
    """
    with _translate_errors("search available phone numbers"):
        country = client().available_phone_numbers(country_code)
        listing = getattr(country, NUMBER_KINDS[kind])
        kwargs: dict = {"page_size": limit, "voice_enabled": True}
        if area_code:
            kwargs["area_code"] = int(area_code)
        if contains:
            kwargs["contains"] = contains
        try:
            numbers = list(listing.page(**kwargs))
        except TwilioException as exc:
            if getattr(_as_rest_exception(exc), "status", None) == 404:
                return []
            raise
    return [
        AvailableNumber(
            phone_number=number.phone_number or "",
            friendly_name=number.friendly_name or "",
            country_code=number.iso_country or country_code,
            locality=number.locality or "",
            region=number.region or "",
            postal_code=number.postal_code or "",
            address_requirements=number.address_requirements or "",
            beta=bool(number.beta),
            voice=_capability(number.capabilities, "voice"),
            sms=_capability(number.capabilities, "sms"),
            mms=_capability(number.capabilities, "mms"),
            fax=_capability(number.capabilities, "fax"),
        )
        for number in numbers
    ]


# --- The account's phone numbers and the softphone's TwiML application (issue 15) ---------------------------


@dataclass(frozen=True)
class NumberUrls:
    """Where Twilio sends a number's calls: the three URLs a line's number must carry (all POST)."""

    voice_url: str
    voice_fallback_url: str
    status_callback: str


@dataclass(frozen=True)
class IncomingNumber:
    """One of the account's own phone numbers, as Twilio holds it."""

    sid: str
    phone_number: str
    friendly_name: str
    urls: NumberUrls
    # A number answered by a TwiML application ignores its own voice URLs.
    voice_application_sid: str = ""


@dataclass(frozen=True)
class TwimlApplication:
    sid: str
    friendly_name: str
    voice_url: str


def _incoming_number(number) -> IncomingNumber:
    return IncomingNumber(
        sid=number.sid or "",
        phone_number=number.phone_number or "",
        friendly_name=number.friendly_name or "",
        urls=NumberUrls(
            voice_url=number.voice_url or "",
            voice_fallback_url=number.voice_fallback_url or "",
            status_callback=number.status_callback or "",
        ),
        voice_application_sid=number.voice_application_sid or "",
    )


def _url_params(urls: NumberUrls) -> dict[str, str]:
    return {
        "voice_url": urls.voice_url,
        "voice_method": "POST",
        "voice_fallback_url": urls.voice_fallback_url,
        "voice_fallback_method": "POST",
        "status_callback": urls.status_callback,
        "status_callback_method": "POST",
    }


def find_incoming_number(*, phone_number: str) -> IncomingNumber | None:
    """The account's number `phone_number` (E.164), or None when the account does not own it."""
    with _translate_errors("look the phone number up on the account"):
        found = list(client().incoming_phone_numbers.page(phone_number=phone_number, page_size=20))
    # Twilio's PhoneNumber filter matches a pattern; only an exact match is the number we mean.
    exact = [number for number in found if number.phone_number == phone_number]
    return _incoming_number(exact[0]) if exact else None


def list_incoming_numbers(*, limit: int = 1000) -> list[IncomingNumber]:
    """Every number on the account (one listing for a whole admin page or sync run, not one request per line)."""
    with _translate_errors("list the account's phone numbers"):
        return [_incoming_number(number) for number in client().incoming_phone_numbers.list(limit=limit)]


def configure_incoming_number(*, sid: str, urls: NumberUrls) -> IncomingNumber:
    """Point the number's calls at `urls` in one update."""
    with _translate_errors("set the phone number's URLs"):
        return _incoming_number(client().incoming_phone_numbers(sid).update(**_url_params(urls)))


def buy_number(*, phone_number: str, urls: NumberUrls, friendly_name: str = "") -> IncomingNumber:
    """Buy `phone_number` (one Twilio has for sale) onto the account, already pointing at `urls`."""
    kwargs = _url_params(urls)
    if friendly_name:
        kwargs["friendly_name"] = friendly_name
    with _translate_errors("buy the phone number"):
        return _incoming_number(client().incoming_phone_numbers.create(phone_number=phone_number, **kwargs))


def release_number(*, sid: str) -> None:
    """Release the number from the account (Twilio stops billing it; it may go to someone else)."""
    with _translate_errors("release the phone number"):
        client().incoming_phone_numbers(sid).delete()


def _application(app) -> TwimlApplication:
    return TwimlApplication(sid=app.sid or "", friendly_name=app.friendly_name or "", voice_url=app.voice_url or "")


def fetch_application(*, sid: str) -> TwimlApplication | None:
    """The TwiML application `sid`, or None when the account has none by that SID."""
    with _translate_errors("fetch the TwiML application"):
        try:
            return _application(client().applications(sid).fetch())
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise


def create_application(*, friendly_name: str, voice_url: str) -> TwimlApplication:
    """A new TwiML application whose calls (the softphone's outgoing calls) ask `voice_url`."""
    with _translate_errors("create the TwiML application"):
        app = client().applications.create(friendly_name=friendly_name, voice_url=voice_url, voice_method="POST")
    return _application(app)


def set_application_voice_url(*, sid: str, voice_url: str) -> TwimlApplication:
    with _translate_errors("set the TwiML application's voice URL"):
        return _application(client().applications(sid).update(voice_url=voice_url, voice_method="POST"))


def find_application(*, friendly_name: str) -> TwimlApplication | None:
    """The account's TwiML application with this exact friendly name (the sync reuses it instead of a second one)."""
    with _translate_errors("look the TwiML application up"):
        # One page: a page with a next_page_uri must not send us on to the next one.
        found = list(client().applications.page(friendly_name=friendly_name, page_size=20))
    exact = [app for app in found if app.friendly_name == friendly_name]
    return _application(exact[0]) if exact else None


# --- recordings (issue 18; docs/recording.md) ----------------------------------------------------------------------

# The recording status callback events we ask for: the start, and the end with the media and its duration.
RECORDING_EVENTS = ["in-progress", "completed", "absent"]


def start_call_recording(*, call_sid: str, status_callback_url: str) -> str:
    """Record the caller's leg, both parties on two channels (caller left, the conference right); return its SID."""
    with _translate_errors("start recording the call"):
        recording = (
            client()
            .calls(call_sid)
            .recordings.create(
                recording_channels="dual",
                recording_track="both",
                recording_status_callback=status_callback_url,
                recording_status_callback_method="POST",
                recording_status_callback_event=RECORDING_EVENTS,
            )
        )
    return recording.sid


def set_call_recording_state(*, call_sid: str, recording_sid: str, state: str) -> None:
    """Pause (`paused`, the paused span is skipped, not kept as silence), resume (`in-progress`) or stop (`stopped`)."""
    kwargs: dict = {"status": state}
    if state == "paused":
        kwargs["pause_behavior"] = "skip"
    verb = {"paused": "pause", "in-progress": "resume", "stopped": "stop"}[state]
    with _translate_errors(f"{verb} the recording"):
        client().calls(call_sid).recordings(recording_sid).update(**kwargs)


def delete_recording(*, recording_sid: str) -> bool:
    """Delete a recording's audio at Twilio. False when Twilio has no such recording (deleted already)."""
    try:
        with _translate_errors("delete the recording"):
            client().recordings(recording_sid).delete()
    except GatewayError as exc:
        if exc.twilio_status == 404:
            return False
        raise
    return True


@dataclass
class MediaStream:
    """Twilio's answer for a recording's audio, to relay to our own client (the Twilio URL stays here)."""

    status: int
    content_type: str
    headers: dict
    chunks: object  # an iterator of bytes
    close: object  # call when done


MEDIA_FORMATS = {"mp3": "audio/mpeg", "wav": "audio/x-wav"}
RELAYED_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified")


def open_recording_media(*, recording_sid: str, media_format: str = "mp3", byte_range: str = "") -> MediaStream:
    """Start downloading a recording's audio from Twilio (with the account's credentials), passing on a Range
    header; follows Twilio's redirect to its storage (requests drops the credentials when the host changes)."""
    twilio = client()  # raises GatewayNotConfigured like every other call
    username, password = twilio.username, twilio.password
    base = (settings.TWILIO_API_BASE_URL or TWILIO_API_ORIGIN).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Recordings/{recording_sid}.{media_format}"
    headers = {"Range": byte_range} if byte_range else {}
    try:
        response = requests.get(
            url, auth=(username, password), headers=headers, stream=True, timeout=settings.TWILIO_HTTP_TIMEOUT
        )
    except requests.RequestException as exc:
        logger.warning("twilio unreachable while fetching recording %s: %s", recording_sid, exc)
        raise GatewayError(f"Twilio could not be reached to fetch the recording: {exc}") from exc
    if response.status_code >= 400 and response.status_code != 416:
        response.close()
        logger.warning("twilio refused recording %s: HTTP %s", recording_sid, response.status_code)
        raise GatewayError(
            f"Twilio refused to send the recording (HTTP {response.status_code}).", twilio_status=response.status_code
        )
    return MediaStream(
        status=response.status_code,
        content_type=MEDIA_FORMATS[media_format],
        headers={name: response.headers[name] for name in RELAYED_HEADERS if name in response.headers},
        chunks=response.iter_content(chunk_size=64 * 1024),
        close=response.close,
    )


# --- supervision -------------------------------------------------------------------------------------------------

SUPERVISOR_LABEL = "supervisor"


def supervision_settings(*, mode: str, agent_leg: str) -> dict:
    """A supervisor participant's Twilio settings for a mode: listen is muted; whisper coaches the agent's leg (only
    the agent hears them); barge is an ordinary unmuted participant."""
    if mode == "listen":
        return {"muted": True, "coaching": False}
    if mode == "whisper":
        return {"muted": False, "coaching": True, "call_sid_to_coach": agent_leg}
    return {"muted": False, "coaching": False}


def add_supervisor(*, conference_sid: str, to: str, from_: str, mode: str, agent_leg: str, timeout_seconds: int) -> str:
    """Ring a supervisor's softphone into the call's conference in `mode`; return their leg's SID. Their leaving
    never ends the call."""
    with _translate_errors("add the supervisor to the conference"):
        participant = (
            client()
            .conferences(conference_sid)
            .participants.create(
                from_=from_,
                to=to,
                timeout=timeout_seconds,
                beep="false",
                early_media=False,
                end_conference_on_exit=False,
                label=SUPERVISOR_LABEL,
                **supervision_settings(mode=mode, agent_leg=agent_leg),
            )
        )
    return participant.call_sid


def set_supervisor_mode(*, conference_sid: str, call_sid: str, mode: str, agent_leg: str) -> None:
    """Switch a supervisor already in the conference between listen, whisper and barge."""
    with _translate_errors("change the supervisor's mode"):
        client().conferences(conference_sid).participants(call_sid).update(
            **supervision_settings(mode=mode, agent_leg=agent_leg)
        )
