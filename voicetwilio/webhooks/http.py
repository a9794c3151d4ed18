"""Reading Twilio's requests and writing answers it understands."""

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.http import HttpRequest, HttpResponse, JsonResponse

TWIML_CONTENT_TYPE = "text/xml; charset=utf-8"


class TwilioParams:
    """Request fields by Twilio's name (`CallSid`), also accepting the spec's camelCase (`callSid`).

    Looks in the form body, then a JSON body, then the query string (which carries our own context such as
    `callSid` on callback URLs, signed by Twilio along with the URL).
    """

    def __init__(self, request: HttpRequest):
        # Lookups already made for this request (by the enum check, the view, ...): the form is parsed once by
        # Django, and each field looked up once per request however many TwilioParams read it (issue 14).
        self._found: dict[str, str | None] = request.__dict__.setdefault("_twilio_params_found", {})
        self._sources: list = []
        if request.method == "POST":
            if request.content_type == "application/json":
                try:
                    body = json.loads(request.body or b"{}")
                except (ValueError, UnicodeDecodeError):
                    body = {}
                if isinstance(body, dict):
                    self._sources.append(body)
            else:
                self._sources.append(request.POST)
        self._sources.append(request.GET)

    def get(self, name: str, default: str = "") -> str:
        if name not in self._found:
            self._found[name] = self._look_up(name)
        found = self._found[name]
        return default if found is None else found

    def _look_up(self, name: str) -> str | None:
        """The first non-empty value (stripped), or None when no source has one."""
        camel = name[:1].lower() + name[1:]
        for source in self._sources:
            for key in (name, camel):
                value = source.get(key)
                if value not in (None, ""):
                    return str(value).strip()
        return None

    def get_int(self, name: str) -> int | None:
        raw = self.get(name)
        try:
            return int(raw) if raw else None
        except ValueError:
            return None

    def get_time(self, name: str = "Timestamp") -> datetime | None:
        """Twilio's callback timestamps are RFC 2822 ("Tue, 14 Jun 2022 18:06:47 +0000"); ISO 8601 is accepted too."""
        raw = self.get(name)
        if not raw:
            return None
        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    def as_dict(self, names: tuple[str, ...]) -> dict:
        """The named fields that are present, for the call log."""
        return {name: value for name in names if (value := self.get(name))}


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def twiml_response(request: HttpRequest, twiml: str, *, status: int = 200) -> HttpResponse:
    """text/xml TwiML, or the spec's envelope {"data": "<TwiML>"} for a client that asks for JSON."""
    if wants_json(request):
        return JsonResponse({"data": twiml}, status=status)
    return HttpResponse(twiml, content_type=TWIML_CONTENT_TYPE, status=status)


def error_json(status: int, error: str, message: str) -> JsonResponse:
    return JsonResponse({"error": error, "message": message}, status=status)
