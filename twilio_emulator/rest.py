"""Twilio's REST API v2010, the part the gateway uses, over a stdlib ThreadingHTTPServer.

URL layout, HTTP Basic auth (Account SID + Auth Token, or API Key SID + secret), JSON shapes, SID formats and
error bodies (`code`, `message`, `more_info`, `status`) follow Twilio's OpenAPI description
(`twilio_api_v2010.json`). Requests only change state and answer; everything audible happens afterwards on
the call legs' own threads, as it does at Twilio.

Besides Twilio's API, `/_emulator/...` (no auth, local use) places calls and shows what happened.
"""

import base64
import contextlib
import json
import logging
import re
import socket
import struct
import threading
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import inventory
from .account import AccountResources
from .leg import Leg
from .model import Call, Conference, Participant
from .people import Person, Ring, RingPlan, Step
from .recordings import CallRecordings, note_audibility
from .util import API_VERSION, TWILIO_DEFAULT_HOLD_MUSIC, as_bool, as_int, event_set, rfc2822
from .world import World

logger = logging.getLogger(__name__)

ACCOUNT = r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})"
SID32 = r"[0-9a-fA-F]{32}"


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


class Form:
    """A form body or query string; Twilio list parameters arrive as repeated keys (or `Key[]`)."""

    def __init__(self, raw: str):
        self.values = parse_qs(raw, keep_blank_values=True)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.values.get(name) or self.values.get(f"{name}[]")
        return values[-1] if values else default

    def many(self, name: str) -> list[str] | None:
        values = (self.values.get(name) or []) + (self.values.get(f"{name}[]") or [])
        return values or None

    def __contains__(self, name: str) -> bool:
        return name in self.values or f"{name}[]" in self.values


def silent_wav(seconds: int) -> bytes:
    """A valid, silent 8 kHz mono WAV file: what a recording URL serves."""
    frames = b"\x00\x00" * 8000 * max(1, min(seconds, 5))
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" + struct.pack("<I", len(frames))
    return header + frames


class TwilioApi:
    """The resources, as functions of (method, path match, form) -> (status, JSON)."""

    def __init__(self, world: World):
        self.world = world
        self.routes: list[tuple[str, re.Pattern, Callable[..., tuple[int, Any]]]] = []
        add = self._route
        add("POST", rf"{ACCOUNT}/Calls\.json", self.create_call)
        add("GET", rf"{ACCOUNT}/Calls\.json", self.list_calls)
        add("GET", rf"{ACCOUNT}/Calls/(?P<sid>CA{SID32})\.json", self.fetch_call)
        add("POST", rf"{ACCOUNT}/Calls/(?P<sid>CA{SID32})\.json", self.update_call)
        add("DELETE", rf"{ACCOUNT}/Calls/(?P<sid>CA{SID32})\.json", self.delete_call)
        add("GET", rf"{ACCOUNT}/Conferences\.json", self.list_conferences)
        add("GET", rf"{ACCOUNT}/Conferences/(?P<sid>[^/]+)\.json", self.fetch_conference)
        add("POST", rf"{ACCOUNT}/Conferences/(?P<sid>[^/]+)\.json", self.update_conference)
        add("POST", rf"{ACCOUNT}/Conferences/(?P<conf>[^/]+)/Participants\.json", self.create_participant)
        add("GET", rf"{ACCOUNT}/Conferences/(?P<conf>[^/]+)/Participants\.json", self.list_participants)
        add("GET", rf"{ACCOUNT}/Conferences/(?P<conf>[^/]+)/Participants/(?P<ref>[^/]+)\.json", self.fetch_participant)
        add(
            "POST", rf"{ACCOUNT}/Conferences/(?P<conf>[^/]+)/Participants/(?P<ref>[^/]+)\.json", self.update_participant
        )
        add(
            "DELETE",
            rf"{ACCOUNT}/Conferences/(?P<conf>[^/]+)/Participants/(?P<ref>[^/]+)\.json",
            self.delete_participant,
        )
        add("GET", rf"{ACCOUNT}/AvailablePhoneNumbers\.json", self.list_countries)
        add("GET", rf"{ACCOUNT}/AvailablePhoneNumbers/(?P<country>[A-Za-z]{{2}})\.json", self.fetch_country)
        add(
            "GET",
            rf"{ACCOUNT}/AvailablePhoneNumbers/(?P<country>[A-Za-z]{{2}})/(?P<kind>[A-Za-z]+)\.json",
            self.list_numbers,
        )
        add("GET", rf"{ACCOUNT}/Recordings/(?P<sid>RE{SID32})\.json", self.fetch_recording)
        AccountResources(self).add_routes(add)
        # Call recordings over REST, and their deletion (twilio_emulator.recordings).
        world.call_recordings = CallRecordings(self)
        world.call_recordings.add_routes(add, ACCOUNT, SID32)

    def _route(self, method: str, pattern: str, handler: Callable[..., tuple[int, Any]]) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def dispatch(self, method: str, path: str, form: Form) -> tuple[int, Any]:
        allowed = False
        for route_method, pattern, handler in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            allowed = True
            if route_method == method:
                if match.group("account") != self.world.account_sid:
                    raise ApiError(404, 20404, f"The requested resource {path} was not found")
                return handler(form, **{k: v for k, v in match.groupdict().items() if k != "account"})
        if allowed:
            raise ApiError(405, 20004, "Method not allowed")
        raise ApiError(404, 20404, f"The requested resource {path} was not found")

    # --- JSON shapes -----------------------------------------------------------------------
    def _date(self, t: float | None) -> str | None:
        return None if t is None else rfc2822(self.world.clock.epoch + timedelta(seconds=t))

    def _base(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.world.account_sid}"

    def call_json(self, call: Call) -> dict:
        uri = f"{self._base()}/Calls/{call.sid}"
        now = self.world.now()
        return {
            "sid": call.sid,
            "date_created": self._date(call.created_at),
            "date_updated": self._date(call.ended_at or call.answered_at or call.created_at),
            "parent_call_sid": call.parent_sid,
            "account_sid": call.account_sid,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "phone_number_sid": None,
            "status": call.status,
            "start_time": self._date(call.answered_at),
            "end_time": self._date(call.ended_at),
            "duration": str(call.duration(now)) if call.ended else None,
            "price": None,
            "price_unit": "USD",
            "direction": call.direction,
            "answered_by": None,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": call.caller_name or None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"{uri}.json",
            "subresource_uris": {
                "notifications": f"{uri}/Notifications.json",
                "recordings": f"{uri}/Recordings.json",
                "payments": f"{uri}/Payments.json",
                "events": f"{uri}/Events.json",
                "siprec": f"{uri}/Siprec.json",
                "streams": f"{uri}/Streams.json",
                "transcriptions": f"{uri}/Transcriptions.json",
                "user_defined_message_subscriptions": f"{uri}/UserDefinedMessageSubscriptions.json",
                "user_defined_messages": f"{uri}/UserDefinedMessages.json",
            },
        }

    def conference_json(self, conference: Conference) -> dict:
        uri = f"{self._base()}/Conferences/{conference.sid}"
        return {
            "account_sid": conference.account_sid,
            "date_created": self._date(conference.created_at),
            "date_updated": self._date(conference.updated_at),
            "api_version": API_VERSION,
            "friendly_name": conference.friendly_name,
            "region": "us1",
            "sid": conference.sid,
            "status": conference.status,
            "uri": f"{uri}.json",
            "subresource_uris": {
                "participants": f"{uri}/Participants.json",
                "recordings": f"{uri}/Recordings.json",
            },
            "reason_conference_ended": conference.reason_ended,
            "call_sid_ending_conference": conference.call_sid_ending,
        }

    def participant_json(self, participant: Participant) -> dict:
        return {
            "account_sid": self.world.account_sid,
            "call_sid": participant.call_sid,
            "label": participant.label or None,
            "call_sid_to_coach": participant.call_sid_to_coach or None,
            "coaching": participant.coaching,
            "conference_sid": participant.conference_sid,
            "date_created": self._date(participant.created_at),
            "date_updated": self._date(participant.updated_at or participant.created_at),
            "end_conference_on_exit": participant.end_on_exit,
            "muted": participant.muted,
            "hold": participant.hold,
            "start_conference_on_enter": participant.start_on_enter,
            "status": participant.status,
            "queue_time": None,
            "uri": f"{self._base()}/Conferences/{participant.conference_sid}/Participants/{participant.call_sid}.json",
        }

    def page(self, key: str, rows: list[dict], uri: str, form: Form) -> dict:
        size = max(1, min(as_int(form.get("PageSize"), 50), 1000))
        shown = rows[:size]
        return {
            key: shown,
            "end": max(0, len(shown) - 1),
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={size}&Page=0",
        }

    # --- Calls -----------------------------------------------------------------------------
    def _call(self, sid: str) -> Call:
        with self.world.lock:
            call = self.world.calls.get(sid)
        if call is None:
            raise ApiError(404, 20404, f"The requested resource {self._base()}/Calls/{sid}.json was not found")
        return call

    def create_call(self, form: Form) -> tuple[int, Any]:
        to, from_ = form.get("To"), form.get("From")
        if not to:
            raise ApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise ApiError(400, 21603, "A 'From' phone number is required.")
        url, twiml_text = form.get("Url") or "", form.get("Twiml") or ""
        if not url and not twiml_text and not form.get("ApplicationSid"):
            raise ApiError(400, 21205, "Url parameter is required.")
        if url and not self.world.is_local(url):
            raise ApiError(400, 21205, f"Url is not valid: {url} (the emulator only calls this machine)")
        party = self.world.directory.party_for(to)
        call = self.world.new_call(
            from_=from_,
            to=to,
            direction="outbound-api",
            who=party.name,
            party=party,
            url=url,
            method=form.get("Method") or "POST",
            twiml=twiml_text,
            fallback_url=form.get("FallbackUrl") or "",
            fallback_method=form.get("FallbackMethod") or "POST",
            status_callback=form.get("StatusCallback") or "",
            status_callback_method=form.get("StatusCallbackMethod") or "POST",
            status_callback_events=event_set(form.many("StatusCallbackEvent"), "completed"),
            timeout=as_int(form.get("Timeout"), 60),
        )
        self.world.timeline.add("api", "api", f"Calls.create to {to} from {from_} -> {call.sid}")
        self.world.spawn(Leg(self.world, call).run_outbound, name=f"leg-{call.sid[:8]}")
        return 201, self.call_json(call)

    def list_calls(self, form: Form) -> tuple[int, Any]:
        with self.world.lock:
            calls = list(self.world.calls.values())
        filters = {"To": "to", "From": "from_", "Status": "status", "ParentCallSid": "parent_sid"}
        for param, attribute in filters.items():
            if form.get(param):
                calls = [call for call in calls if getattr(call, attribute) == form.get(param)]
        calls.sort(key=lambda call: call.created_at, reverse=True)
        return 200, self.page("calls", [self.call_json(c) for c in calls], f"{self._base()}/Calls.json", form)

    def fetch_call(self, form: Form, sid: str) -> tuple[int, Any]:
        return 200, self.call_json(self._call(sid))

    def update_call(self, form: Form, sid: str) -> tuple[int, Any]:
        call = self._call(sid)
        url, twiml_text, status = form.get("Url"), form.get("Twiml"), form.get("Status")
        if status and status not in ("canceled", "completed"):
            raise ApiError(400, 21218, f"Invalid Status {status!r}: canceled or completed")
        with self.world.lock:
            if url or twiml_text:
                if call.ended:
                    raise ApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
                if url and not self.world.is_local(url):
                    raise ApiError(400, 21205, f"Url is not valid: {url} (the emulator only calls this machine)")
                method = form.get("Method") or "POST"
                if call.answered or call.direction == "inbound":
                    call.redirect = ("twiml", twiml_text, "") if twiml_text else ("url", url, method)
                else:
                    call.url, call.method, call.twiml = url or "", method, twiml_text or ""
                what = "new TwiML" if twiml_text else url
                self.world.timeline.add("api", "api", f"Calls.update {call.who}'s call: redirect to {what}")
            # `canceled` stops a call that is still ringing; `completed` ends it in any state.
            if status and not call.ended and (status == "completed" or not call.answered):
                if call.hangup is None:
                    call.hangup = "api"
                self.world.timeline.add("api", "api", f"Calls.update {call.who}'s call: Status={status}")
            for key in ("StatusCallback", "FallbackUrl"):
                if form.get(key):
                    setattr(call, "status_callback" if key == "StatusCallback" else "fallback_url", form.get(key))
            self.world.changed()
        return 200, self.call_json(call)

    def delete_call(self, form: Form, sid: str) -> tuple[int, Any]:
        call = self._call(sid)
        if not call.ended:
            raise ApiError(400, 20009, "Cannot delete a call that is in progress")
        with self.world.lock:
            self.world.calls.pop(sid, None)
        return 204, None

    # --- Conferences ---------------------------------------------------------------------------
    def _conference(self, sid: str) -> Conference:
        with self.world.lock:
            conference = self.world.conferences.get(sid)
        if conference is None:
            raise ApiError(404, 20404, f"The requested resource {self._base()}/Conferences/{sid}.json was not found")
        return conference

    def list_conferences(self, form: Form) -> tuple[int, Any]:
        with self.world.lock:
            conferences = list(self.world.conferences.values())
        if form.get("FriendlyName"):
            conferences = [c for c in conferences if c.friendly_name == form.get("FriendlyName")]
        if form.get("Status"):
            conferences = [c for c in conferences if c.status == form.get("Status")]
        conferences.sort(key=lambda c: c.created_at, reverse=True)
        rows = [self.conference_json(c) for c in conferences]
        return 200, self.page("conferences", rows, f"{self._base()}/Conferences.json", form)

    def fetch_conference(self, form: Form, sid: str) -> tuple[int, Any]:
        return 200, self.conference_json(self._conference(sid))

    def update_conference(self, form: Form, sid: str) -> tuple[int, Any]:
        conference = self._conference(sid)
        if form.get("Status") == "completed":
            self.world.timeline.add("api", "api", f"Conferences.update {conference.friendly_name!r}: end it")
            self.world.end_conference(conference, reason="conference-ended-via-api")
        elif form.get("Status"):
            raise ApiError(400, 21218, "Status can only be completed")
        if form.get("AnnounceUrl"):
            self.world.timeline.add("emulator", "warning", "conference announcements are not emulated")
        return 200, self.conference_json(conference)

    # --- Participants --------------------------------------------------------------------------
    def _participant(self, conf: str, ref: str) -> tuple[Conference, Participant]:
        if not conf.startswith("CF"):
            # Twilio finds a conference by friendly name only when adding a participant.
            raise ApiError(404, 20404, f"The requested resource {self._base()}/Conferences/{conf}.json was not found")
        conference = self._conference(conf)
        with self.world.lock:
            participant = conference.participants.get(ref) or next(
                (p for p in conference.participants.values() if p.label and p.label == ref), None
            )
        if participant is None:
            path = f"{self._base()}/Conferences/{conf}/Participants/{ref}.json"
            raise ApiError(404, 20404, f"The requested resource {path} was not found")
        return conference, participant

    def create_participant(self, form: Form, conf: str) -> tuple[int, Any]:
        to, from_ = form.get("To"), form.get("From")
        if not to:
            raise ApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise ApiError(400, 21603, "A 'From' phone number is required.")
        if conf.startswith("CF") and re.fullmatch(f"CF{SID32}", conf):
            conference = self._conference(conf)
            if conference.status == "completed":
                raise ApiError(400, 20404, f"Conference {conf} has ended")
        else:
            conference = self.world.conference_for(conf, create=True)
        party = self.world.directory.party_for(to)
        call = self.world.new_call(
            from_=form.get("CallerId") or from_,
            to=to,
            direction="outbound-api",
            who=party.name,
            party=party,
            status_callback=form.get("StatusCallback") or "",
            status_callback_method=form.get("StatusCallbackMethod") or "POST",
            status_callback_events=event_set(form.many("StatusCallbackEvent"), "completed"),
            timeout=max(5, min(as_int(form.get("Timeout"), 60), 600)),
        )
        wait_url = form.get("WaitUrl")
        participant = Participant(
            call_sid=call.sid,
            conference_sid=conference.sid,
            created_at=self.world.now(),
            label=form.get("Label") or "",
            muted=as_bool(form.get("Muted"), False),
            start_on_enter=as_bool(form.get("StartConferenceOnEnter"), True),
            end_on_exit=as_bool(form.get("EndConferenceOnExit"), False),
            beep=form.get("Beep") or "true",
            wait_url=TWILIO_DEFAULT_HOLD_MUSIC if wait_url is None else wait_url,
            wait_method=form.get("WaitMethod") or "POST",
            coaching=as_bool(form.get("Coaching"), bool(form.get("CallSidToCoach"))),
            call_sid_to_coach=form.get("CallSidToCoach") or "",
            via_api=True,
        )
        with self.world.lock:
            conference.participants[call.sid] = participant
            call.conference_sid = conference.sid
        self.world.subscribe_conference(
            conference,
            form.get("ConferenceStatusCallback") or "",
            form.get("ConferenceStatusCallbackMethod") or "POST",
            event_set(form.many("ConferenceStatusCallbackEvent"), "start end"),
        )
        self.world.timeline.add(
            "api",
            "api",
            f"Participants.create {to} into {conference.friendly_name!r}"
            + (f" (label {participant.label})" if participant.label else "")
            + f" -> {call.sid}",
        )
        self.world.spawn(lambda: Leg(self.world, call).run_participant(conference, participant), name="participant")
        if participant.muted or participant.coaching:
            note_audibility(self.world, conference, participant)
        return 201, self.participant_json(participant)

    def list_participants(self, form: Form, conf: str) -> tuple[int, Any]:
        conference = self._conference(conf)
        with self.world.lock:
            participants = list(conference.participants.values())
        for param, attribute in (("Muted", "muted"), ("Hold", "hold"), ("Coaching", "coaching")):
            if form.get(param):
                participants = [p for p in participants if getattr(p, attribute) == as_bool(form.get(param), False)]
        if form.get("Label"):
            participants = [p for p in participants if p.label == form.get("Label")]
        rows = [self.participant_json(p) for p in participants]
        return 200, self.page("participants", rows, f"{self._base()}/Conferences/{conf}/Participants.json", form)

    def fetch_participant(self, form: Form, conf: str, ref: str) -> tuple[int, Any]:
        return 200, self.participant_json(self._participant(conf, ref)[1])

    def update_participant(self, form: Form, conf: str, ref: str) -> tuple[int, Any]:
        conference, participant = self._participant(conf, ref)
        world = self.world
        with world.lock:
            call = world.calls[participant.call_sid]
            changes = []
            if "Hold" in form:
                hold = as_bool(form.get("Hold"), False)
                if hold != participant.hold:
                    participant.hold = hold
                    if hold:
                        participant.hold_url = form.get("HoldUrl") or ""
                        participant.hold_method = form.get("HoldMethod") or "GET"
                    changes.append("hold" if hold else "unhold")
                    world.conference_event(conference, f"participant-{'hold' if hold else 'unhold'}", participant)
            if "Muted" in form:
                muted = as_bool(form.get("Muted"), False)
                if muted != participant.muted:
                    participant.muted = muted
                    changes.append("mute" if muted else "unmute")
                    world.conference_event(conference, f"participant-{'mute' if muted else 'unmute'}", participant)
            if "EndConferenceOnExit" in form:
                participant.end_on_exit = as_bool(form.get("EndConferenceOnExit"), False)
                changes.append(f"endConferenceOnExit={str(participant.end_on_exit).lower()}")
                world.conference_event(conference, "participant-modify", participant)
            if "Coaching" in form or "CallSidToCoach" in form:
                participant.coaching = as_bool(form.get("Coaching"), participant.coaching)
                participant.call_sid_to_coach = form.get("CallSidToCoach") or participant.call_sid_to_coach
                changes.append("coaching")
            if form.get("AnnounceUrl"):
                # The participant's leg plays it (leg.in_conference), then is back in the conference.
                participant.announce_url = form.get("AnnounceUrl")
                participant.announce_method = form.get("AnnounceMethod") or "POST"
                changes.append("announcement")
            participant.updated_at = world.now()
            conference.version += 1
            world.timeline.add(
                "api", "api", f"Participants.update {call.who} in {conference.friendly_name!r}: {', '.join(changes)}"
            )
            if "Muted" in form or "Coaching" in form or "CallSidToCoach" in form:
                note_audibility(world, conference, participant)
            world.changed()
        return 200, self.participant_json(participant)

    def delete_participant(self, form: Form, conf: str, ref: str) -> tuple[int, Any]:
        conference, participant = self._participant(conf, ref)
        world = self.world
        with world.lock:
            call = world.calls[participant.call_sid]
            participant.kicked = "api"
            if participant.via_api and call.hangup is None:
                call.hangup = "kicked"
            world.timeline.add("api", "api", f"Participants.delete {call.who} from {conference.friendly_name!r}")
            world.changed()
        return 204, None

    # --- AvailablePhoneNumbers -----------------------------------------------------------------
    def list_countries(self, form: Form) -> tuple[int, Any]:
        rows = [self._country_json(country) for country in inventory.countries()]
        return 200, self.page("countries", rows, f"{self._base()}/AvailablePhoneNumbers.json", form)

    def _country_json(self, country: str) -> dict:
        uri = f"{self._base()}/AvailablePhoneNumbers/{country}"
        kinds = inventory.kinds_in(country)
        return {
            "country_code": country,
            "country": {"US": "United States", "CA": "Canada", "GB": "United Kingdom"}.get(country, country),
            "uri": f"{uri}.json",
            "beta": False,
            "subresource_uris": {
                {"Local": "local", "TollFree": "toll_free", "Mobile": "mobile"}[kind]: f"{uri}/{kind}.json"
                for kind in sorted(kinds)
            },
        }

    def fetch_country(self, form: Form, country: str) -> tuple[int, Any]:
        if country.upper() not in inventory.countries():
            raise ApiError(
                404, 20404, f"The requested resource {self._base()}/AvailablePhoneNumbers/{country}.json was not found"
            )
        return 200, self._country_json(country.upper())

    def list_numbers(self, form: Form, country: str, kind: str) -> tuple[int, Any]:
        country = country.upper()
        path = f"{self._base()}/AvailablePhoneNumbers/{country}/{kind}.json"
        if kind not in inventory.kinds_in(country):
            raise ApiError(404, 20404, f"The requested resource {path} was not found")
        area_code = form.get("AreaCode") or ""
        if area_code and not re.fullmatch(r"[2-9][0-9]{2}", area_code):
            raise ApiError(400, 21452, f"AreaCode {area_code!r} is not a valid area code")
        contains = form.get("Contains") or ""
        if contains and not re.fullmatch(r"[0-9A-Za-z*+]{2,}", contains):
            raise ApiError(400, 21453, f"Contains {contains!r} is not a valid pattern")

        def flag(name: str) -> bool | None:
            return None if form.get(name) in (None, "") else as_bool(form.get(name), False)

        found = inventory.search(
            country=country,
            kind=kind,
            area_code=area_code,
            contains=contains.lstrip("+"),
            voice=flag("VoiceEnabled"),
            sms=flag("SmsEnabled"),
            mms=flag("MmsEnabled"),
        )
        with self.world.lock:
            owned = {number.phone_number for number in self.world.owned_numbers.values()}
        found = [number for number in found if number.phone_number not in owned]  # a bought number is not for sale
        return 200, self.page("available_phone_numbers", [n.as_json() for n in found], path, form)

    # --- Recordings ----------------------------------------------------------------------------
    def fetch_recording(self, form: Form, sid: str) -> tuple[int, Any]:
        with self.world.lock:
            recording = self.world.recordings.get(sid)
        if recording is None:
            raise ApiError(404, 20404, f"The requested resource {self._base()}/Recordings/{sid}.json was not found")
        return 200, {
            "account_sid": recording.account_sid,
            "api_version": API_VERSION,
            "call_sid": recording.call_sid,
            "conference_sid": recording.conference_sid,
            "date_created": self._date(recording.created_at),
            "date_updated": self._date(recording.created_at),
            "start_time": self._date(recording.created_at),
            "duration": str(recording.duration),
            "sid": recording.sid,
            "price": None,
            "price_unit": "USD",
            "status": "completed",
            "channels": 1,
            "source": recording.source,
            "error_code": None,
            "uri": f"{self._base()}/Recordings/{recording.sid}.json",
            "encryption_details": None,
            "subresource_uris": {},
            "media_url": self.world.recording_url(recording.sid),
        }


class _Handler(BaseHTTPRequestHandler):
    server: "EmulatorHTTPServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (stdlib signature)
        logger.debug("emulator %s", format % args)

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, data: Any) -> None:
        if status == 204:
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(status, json.dumps(data).encode(), "application/json; charset=utf-8")

    def _authorized(self) -> bool:
        world = self.server.world
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            username, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if username == world.account_sid and password == world.auth_token:
            return True
        return username in world.api_keys and world.api_keys[username] == password

    def _handle(self, method: str) -> None:
        world = self.server.world
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        with world.clock.running():
            try:
                if parts.path.startswith("/_emulator") or parts.path == "/healthz":
                    self.server.control.handle(self, method, parts.path, raw_body)
                    return
                recording = re.match(rf"^{ACCOUNT}/Recordings/(?P<sid>RE{SID32})(\.wav|\.mp3)?$", parts.path)
                if method == "GET" and recording:
                    with world.lock:
                        found = world.recordings.get(recording.group("sid"))
                    if found is not None:
                        self._send(200, silent_wav(found.duration), "audio/x-wav")
                        return
                if not self._authorized():
                    raise ApiError(401, 20003, "Authenticate")
                form = Form(parts.query if method in ("GET", "DELETE") else raw_body)
                status, data = self.server.api.dispatch(method, parts.path, form)
                self._send_json(status, data)
            except ApiError as exc:
                if exc.status != 404 or method != "GET":
                    world.timeline.add("api", "error", f"{method} {parts.path} -> {exc.status} {exc.message}")
                self._send_json(exc.status, exc.body())
            except Exception as exc:
                logger.exception("emulator failed on %s %s", method, self.path)
                world.timeline.add("emulator", "error", f"internal error on {method} {parts.path}: {exc!r}")
                self._send_json(500, ApiError(500, 20500, "Internal Server Error").body())


# A caller placed by hand hangs up by itself after this many clock seconds (real seconds under `make run`, whose
# clock runs at speed 1), so a forgotten demo call never leaves an agent "In a call" for good.
# `"hangUpAfter": null` keeps the caller on the line until someone hangs up.
DEFAULT_HANG_UP_AFTER_SECONDS = 120.0


def _hang_up_after(spec: dict) -> float | None:
    if "hangUpAfter" not in spec:
        return DEFAULT_HANG_UP_AFTER_SECONDS
    value = spec["hangUpAfter"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"hangUpAfter is a positive number of seconds, or null to stay on the line: {value!r}")
    return float(value)


class Control:
    """`/_emulator/...`: place a call by hand, see the calls and the timeline (local use; no auth).

    `POST /_emulator/calls {"to": "+14155550100", "from"?, "name"?, "steps"?, "hangUpAfter"?}`: the caller hangs
    up after `hangUpAfter` clock seconds (default DEFAULT_HANG_UP_AFTER_SECONDS; null: never).
    """

    def __init__(self, world: World):
        self.world = world

    def handle(self, handler: _Handler, method: str, path: str, body: str) -> None:
        world = self.world
        if path in ("/healthz", "/_emulator/health"):
            handler._send_json(200, {"ok": True, "t": world.now()})
        elif path == "/_emulator/timeline" and method == "GET":
            handler._send(200, (world.timeline.render() + "\n").encode(), "text/plain; charset=utf-8")
        elif path in ("/_emulator", "/_emulator/calls") and method == "GET":
            with world.lock:
                calls = [
                    {"sid": c.sid, "who": c.who, "from": c.from_, "to": c.to, "status": c.status}
                    for c in world.calls.values()
                ]
            handler._send_json(200, {"calls": calls})
        elif path == "/_emulator/calls" and method == "POST":
            try:
                spec = json.loads(body or "{}")
                steps = [Step.parse(raw) for raw in spec.get("steps", [])]
                hang_up_after = _hang_up_after(spec)
                caller = Person(
                    spec.get("name", "caller"),
                    steps=steps,
                    rings=[Ring(RingPlan())],
                    patience_alone=30,
                    hang_up_after=hang_up_after,
                )
                call = world.place_inbound_call(from_=spec.get("from", "+15005550006"), to=spec["to"], party=caller)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                handler._send_json(400, {"error": "bad_request", "message": str(exc)})
                return
            handler._send_json(201, {"callSid": call.sid, "hangUpAfter": hang_up_after})
        else:
            handler._send_json(404, {"error": "not_found", "message": f"no {method} {path} here"})


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, world: World, host: str, port: int):
        super().__init__((host, port), _Handler)
        self.world = world
        self.api = TwilioApi(world)
        self.control = Control(world)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # Keep-alive connections outlive serve_forever(): track them so stop() can close them, or a client's pooled
    # connection would go on talking to a stopped emulator's state.
    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """The emulator on a port: start() in a background thread, stop() when done."""

    def __init__(self, world: World, *, host: str = "127.0.0.1", port: int = 0):
        self.world = world
        self.httpd = EmulatorHTTPServer(world, host, port)
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        world.emulator_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> "EmulatorServer":
        self.world.start()
        self._thread = threading.Thread(
            target=lambda: self.httpd.serve_forever(poll_interval=0.05), name="emulator-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.close_connections()
        self.world.stop()

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
