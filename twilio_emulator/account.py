"""The account's own phone numbers (IncomingPhoneNumbers) and TwiML applications (Applications).

A number routes its calls by its configured VoiceUrl, as at Twilio: a number whose voice URL is empty or points
anywhere but the app fails its calls with Twilio's application error (World.number_config reads these).
Shapes, filters and errors follow Twilio's OpenAPI description of REST API v2010.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import inventory
from .util import API_VERSION, new_sid

if TYPE_CHECKING:
    from .rest import Form, TwilioApi

# The writable fields of a number (form name -> attribute) that the emulator keeps and answers with.
NUMBER_FIELDS = {
    "FriendlyName": "friendly_name",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceApplicationSid": "voice_application_sid",
}
APPLICATION_FIELDS = {
    "FriendlyName": "friendly_name",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
}


@dataclass
class OwnedNumber:
    phone_number: str
    sid: str = field(default_factory=lambda: new_sid("PN"))
    friendly_name: str = ""
    voice_url: str = ""
    voice_method: str = "POST"
    voice_fallback_url: str = ""
    voice_fallback_method: str = "POST"
    status_callback: str = ""
    status_callback_method: str = "POST"
    voice_application_sid: str = ""


@dataclass
class Application:
    friendly_name: str
    sid: str = field(default_factory=lambda: new_sid("AP"))
    voice_url: str = ""
    voice_method: str = "POST"
    voice_fallback_url: str = ""
    voice_fallback_method: str = "POST"
    status_callback: str = ""
    status_callback_method: str = "POST"


def _apply(target: Any, form: "Form", fields: dict[str, str]) -> None:
    for name, attribute in fields.items():
        if name in form:
            setattr(target, attribute, form.get(name) or "")


class AccountResources:
    """IncomingPhoneNumbers and Applications, routed by TwilioApi."""

    def __init__(self, api: "TwilioApi"):
        self.api = api
        self.world = api.world

    def add_routes(self, add) -> None:
        account, sid32 = r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})", r"[0-9a-fA-F]{32}"
        add("GET", rf"{account}/IncomingPhoneNumbers\.json", self.list_numbers)
        add("POST", rf"{account}/IncomingPhoneNumbers\.json", self.buy_number)
        add("GET", rf"{account}/IncomingPhoneNumbers/(?P<sid>PN{sid32})\.json", self.fetch_number)
        add("POST", rf"{account}/IncomingPhoneNumbers/(?P<sid>PN{sid32})\.json", self.update_number)
        add("DELETE", rf"{account}/IncomingPhoneNumbers/(?P<sid>PN{sid32})\.json", self.release_number)
        add("GET", rf"{account}/Applications\.json", self.list_applications)
        add("POST", rf"{account}/Applications\.json", self.create_application)
        add("GET", rf"{account}/Applications/(?P<sid>AP{sid32})\.json", self.fetch_application)
        add("POST", rf"{account}/Applications/(?P<sid>AP{sid32})\.json", self.update_application)

    # --- JSON shapes -----------------------------------------------------------------------
    def _base(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.world.account_sid}"

    def _now(self) -> str | None:
        return self.api._date(self.world.now())

    def number_json(self, number: OwnedNumber) -> dict:
        uri = f"{self._base()}/IncomingPhoneNumbers/{number.sid}.json"
        return {
            "account_sid": self.world.account_sid,
            "address_sid": None,
            "address_requirements": "none",
            "api_version": API_VERSION,
            "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": self._now(),
            "date_updated": self._now(),
            "friendly_name": number.friendly_name or number.phone_number,
            "identity_sid": None,
            "phone_number": number.phone_number,
            "origin": "twilio",
            "sid": number.sid,
            "sms_application_sid": "",
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status_callback": number.status_callback,
            "status_callback_method": number.status_callback_method,
            "trunk_sid": None,
            "uri": uri,
            "voice_receive_mode": "voice",
            "voice_application_sid": number.voice_application_sid or None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": number.voice_fallback_method,
            "voice_fallback_url": number.voice_fallback_url or None,
            "voice_method": number.voice_method,
            "voice_url": number.voice_url or None,
            "emergency_status": "Inactive",
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "bundle_sid": None,
            "status": "in-use",
        }

    def application_json(self, app: Application) -> dict:
        return {
            "account_sid": self.world.account_sid,
            "api_version": API_VERSION,
            "date_created": self._now(),
            "date_updated": self._now(),
            "friendly_name": app.friendly_name,
            "message_status_callback": None,
            "sid": app.sid,
            "sms_fallback_method": "POST",
            "sms_fallback_url": None,
            "sms_method": "POST",
            "sms_status_callback": None,
            "sms_url": None,
            "status_callback": app.status_callback or None,
            "status_callback_method": app.status_callback_method,
            "uri": f"{self._base()}/Applications/{app.sid}.json",
            "voice_caller_id_lookup": False,
            "voice_fallback_method": app.voice_fallback_method,
            "voice_fallback_url": app.voice_fallback_url or None,
            "voice_method": app.voice_method,
            "voice_url": app.voice_url or None,
            "public_application_connect_enabled": True,
        }

    def _not_found(self, path: str):
        from .rest import ApiError

        return ApiError(404, 20404, f"The requested resource {self._base()}/{path} was not found")

    # --- IncomingPhoneNumbers ----------------------------------------------------------------
    def _number(self, sid: str) -> OwnedNumber:
        with self.world.lock:
            number = self.world.owned_numbers.get(sid)
        if number is None:
            raise self._not_found(f"IncomingPhoneNumbers/{sid}.json")
        return number

    def list_numbers(self, form: "Form") -> tuple[int, Any]:
        with self.world.lock:
            numbers = list(self.world.owned_numbers.values())
        wanted = (form.get("PhoneNumber") or "").strip()
        if wanted:
            # Twilio matches digits anywhere in the number ("555" finds +14155550100); `+` is literal.
            numbers = [number for number in numbers if wanted.lstrip("+") in number.phone_number.lstrip("+")]
        if form.get("FriendlyName"):
            numbers = [number for number in numbers if number.friendly_name == form.get("FriendlyName")]
        rows = [self.number_json(number) for number in numbers]
        return 200, self.api.page("incoming_phone_numbers", rows, f"{self._base()}/IncomingPhoneNumbers.json", form)

    def buy_number(self, form: "Form") -> tuple[int, Any]:
        from .rest import ApiError

        phone_number = form.get("PhoneNumber") or ""
        if not phone_number:
            raise ApiError(400, 21452, "No PhoneNumber or AreaCode given: the emulator buys a number by PhoneNumber")
        with self.world.lock:
            if any(number.phone_number == phone_number for number in self.world.owned_numbers.values()):
                raise ApiError(400, 21422, f"PhoneNumber {phone_number} is already on this account")
            if not inventory.for_sale(phone_number):
                raise ApiError(400, 21422, f"PhoneNumber {phone_number} is not available")
            number = OwnedNumber(phone_number=phone_number)
            _apply(number, form, NUMBER_FIELDS)
            self.world.owned_numbers[number.sid] = number
        self.world.timeline.add("api", "api", f"IncomingPhoneNumbers.create {phone_number} -> {number.sid}")
        return 201, self.number_json(number)

    def fetch_number(self, form: "Form", sid: str) -> tuple[int, Any]:
        return 200, self.number_json(self._number(sid))

    def update_number(self, form: "Form", sid: str) -> tuple[int, Any]:
        number = self._number(sid)
        with self.world.lock:
            _apply(number, form, NUMBER_FIELDS)
        changed = ", ".join(name for name in NUMBER_FIELDS if name in form)
        self.world.timeline.add("api", "api", f"IncomingPhoneNumbers.update {number.phone_number}: {changed}")
        return 200, self.number_json(number)

    def release_number(self, form: "Form", sid: str) -> tuple[int, Any]:
        number = self._number(sid)
        with self.world.lock:
            self.world.owned_numbers.pop(sid, None)
        self.world.timeline.add("api", "api", f"IncomingPhoneNumbers.delete {number.phone_number}")
        return 204, None

    # --- Applications ------------------------------------------------------------------------
    def _application(self, sid: str) -> Application:
        with self.world.lock:
            app = self.world.applications.get(sid)
        if app is None:
            raise self._not_found(f"Applications/{sid}.json")
        return app

    def list_applications(self, form: "Form") -> tuple[int, Any]:
        with self.world.lock:
            apps = list(self.world.applications.values())
        if form.get("FriendlyName"):
            apps = [app for app in apps if app.friendly_name == form.get("FriendlyName")]
        rows = [self.application_json(app) for app in apps]
        return 200, self.api.page("applications", rows, f"{self._base()}/Applications.json", form)

    def create_application(self, form: "Form") -> tuple[int, Any]:
        app = Application(friendly_name=form.get("FriendlyName") or "")
        _apply(app, form, APPLICATION_FIELDS)
        with self.world.lock:
            self.world.applications[app.sid] = app
        self.world.timeline.add("api", "api", f"Applications.create {app.friendly_name!r} -> {app.sid}")
        return 201, self.application_json(app)

    def fetch_application(self, form: "Form", sid: str) -> tuple[int, Any]:
        return 200, self.application_json(self._application(sid))

    def update_application(self, form: "Form", sid: str) -> tuple[int, Any]:
        app = self._application(sid)
        with self.world.lock:
            _apply(app, form, APPLICATION_FIELDS)
        self.world.timeline.add("api", "api", f"Applications.update {app.sid}")
        return 200, self.application_json(app)
