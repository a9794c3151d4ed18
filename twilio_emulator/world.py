"""The emulated Twilio account: its calls and conferences, the app it calls, and the people on the lines.

Every state change happens under the clock's lock and ends with `changed()`, which wakes whoever waits for
it. HTTP never runs under the lock. Requests whose answer steers a call (the voice URL, action URLs, wait and
hold URLs) are made by that call's own thread; fire-and-forget callbacks (call progress, conference events,
recording status) go through one dispatcher thread in order, after the exchange in flight has finished, as
Twilio delivers them asynchronously.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from . import twiml
from .account import Application, OwnedNumber
from .clock import Clock
from .model import STATUS_EVENT, TERMINAL, Call, Conference, Participant, Recording
from .recordings import finish_call_recordings
from .timeline import Timeline
from .util import API_VERSION, new_sid, quote_text, rfc2822, short_path
from .webhooks import Answer, WebhookClient

if TYPE_CHECKING:
    from .people import Directory, Party

logger = logging.getLogger(__name__)

# Parameters worth showing on a webhook's timeline line, in this order.
SHOWN_PARAMS = [
    "CallStatus",
    "StatusCallbackEvent",
    "Digits",
    "SpeechResult",
    "DialCallStatus",
    "QueueResult",
    "RecordingStatus",
    "RecordingDuration",
    "ParticipantCallStatus",
    "ReasonConferenceEnded",
    "ErrorCode",
    "SequenceNumber",
]


@dataclass
class NumberConfig:
    """What the Twilio console would hold for one of the account's phone numbers."""

    voice_url: str
    voice_method: str = "POST"
    fallback_url: str = ""
    fallback_method: str = "POST"
    status_callback: str = ""
    status_callback_method: str = "POST"


@dataclass
class Callback:
    url: str
    method: str
    params: dict[str, str]
    who: str
    what: str


class World:
    def __init__(
        self,
        *,
        clock: Clock,
        account_sid: str,
        auth_token: str,
        api_keys: dict[str, str] | None = None,
        app_url: str,
        numbers: dict[str, NumberConfig] | None = None,
        default_number: NumberConfig | None = None,
        directory: "Directory",
        webhook_timeout: float = 15.0,
        play_seconds: float = 10.0,
    ):
        self.clock = clock
        self.lock = clock.lock
        self.timeline = Timeline(clock.now)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys or {})
        self.app_url = app_url.rstrip("/")
        self.emulator_url = ""  # set by the HTTP server once it listens (recording URLs point at it)
        self.numbers = dict(numbers or {})
        self.default_number = default_number
        # The account's own numbers and TwiML applications (account.py), by SID. A number here routes by what
        # is configured on it, before `numbers` and `default_number` are consulted.
        self.owned_numbers: dict[str, OwnedNumber] = {}
        self.applications: dict[str, Application] = {}
        self.directory = directory
        self.play_seconds = play_seconds
        self.web = WebhookClient(auth_token=auth_token, timeout=webhook_timeout)
        self.calls: dict[str, Call] = {}
        self.conferences: dict[str, Conference] = {}
        self.recordings: dict[str, Recording] = {}
        self._callbacks: deque[Callback] = deque()
        self._stopping = False
        self._sending = False
        self._active = 0
        self._threads: list[threading.Thread] = []
        self._dispatcher: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = self.clock.spawn(self._dispatch, name="emulator-callbacks")

    def stop(self, *, join_seconds: float = 5.0) -> None:
        with self.lock:
            for call in self.calls.values():
                if not call.ended and call.hangup is None:
                    call.hangup = "emulator-stopped"
            self._stopping = True
            self.clock.changed()
        for thread in [*self._threads, *([self._dispatcher] if self._dispatcher else [])]:
            thread.join(join_seconds)

    def changed(self) -> None:
        self.clock.changed()

    def now(self) -> float:
        return self.clock.now()

    def idle(self) -> bool:
        """Nothing left to happen: every leg and person has finished and every callback was delivered."""
        with self.lock:
            return self._active == 0 and not self._callbacks and not self._sending

    def settled(self) -> bool:
        """No call is live and every callback was delivered (a scenario's scheduler runs only then)."""
        with self.lock:
            return all(call.ended for call in self.calls.values()) and not self._callbacks and not self._sending

    def spawn(self, target: Callable[[], None], *, name: str) -> None:
        """Start a leg's or a person's thread; the world is idle again only once it has finished."""

        def run() -> None:
            try:
                target()
            finally:
                with self.lock:
                    self._active -= 1
                    self.changed()

        with self.lock:
            self._active += 1
        thread = self.clock.spawn(run, name=name)
        with self.lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    # --- URLs -------------------------------------------------------------------------------
    def absolute(self, base: str, url: str) -> str:
        return urljoin(base or (self.app_url + "/"), url) if url else ""

    def is_local(self, url: str) -> bool:
        """May the emulator fetch this URL? Only the app and this machine; never the internet."""
        host = urlsplit(url).hostname or ""
        return url.startswith(self.app_url) or host in ("127.0.0.1", "localhost", "::1")

    def number_config(self, number: str) -> NumberConfig | None:
        with self.lock:
            owned = next((n for n in self.owned_numbers.values() if n.phone_number == number), None)
        if owned is not None:
            # As at Twilio: the number's own configuration, however wrong (an empty or foreign voice URL makes
            # the caller hear an application error).
            return NumberConfig(
                voice_url=owned.voice_url,
                voice_method=owned.voice_method or "POST",
                fallback_url=owned.voice_fallback_url,
                fallback_method=owned.voice_fallback_method or "POST",
                status_callback=owned.status_callback,
                status_callback_method=owned.status_callback_method or "POST",
            )
        return self.numbers.get(number) or self.default_number

    def own_number(self, phone_number: str, config: NumberConfig | None = None) -> OwnedNumber:
        """Put a number on the account (as if bought earlier), configured like `config` or not at all."""
        number = OwnedNumber(phone_number=phone_number)
        if config is not None:
            number.voice_url, number.voice_method = config.voice_url, config.voice_method
            number.voice_fallback_url, number.voice_fallback_method = config.fallback_url, config.fallback_method
            number.status_callback = config.status_callback
            number.status_callback_method = config.status_callback_method
        with self.lock:
            self.owned_numbers[number.sid] = number
        return number

    def recording_url(self, recording_sid: str) -> str:
        base = self.emulator_url or "https://api.twilio.com"
        return f"{base}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{recording_sid}"

    # --- calls ------------------------------------------------------------------------------
    def new_call(self, **fields) -> Call:
        call = Call(sid=new_sid("CA"), account_sid=self.account_sid, created_at=self.now(), **fields)
        with self.lock:
            self.calls[call.sid] = call
        return call

    def call_params(self, call: Call) -> dict[str, str]:
        """Twilio's standard request parameters for a call."""
        params = {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Direction": call.direction,
            "From": call.from_,
            "To": call.to,
            "Called": call.to,
            "Caller": call.from_,
        }
        for prefix, number in (("From", call.from_), ("To", call.to), ("Caller", call.from_), ("Called", call.to)):
            if number.startswith("+1"):
                params[f"{prefix}Country"] = "US"
        if call.parent_sid:
            params["ParentCallSid"] = call.parent_sid
        if call.caller_name:
            params["CallerName"] = call.caller_name
        params.update(call.extra_params)
        if not params["Called"]:
            params.pop("CalledCountry", None)  # a softphone's call has no number called
        return params

    def set_status(self, call: Call, status: str) -> None:
        """Move a call to `status`, say so on the timeline and send the call-progress callback it asked for."""
        with self.lock:
            if call.status == status or call.ended:
                return
            previous, call.status = call.status, status
            now = self.now()
            if status == "in-progress" and call.answered_at is None:
                call.answered_at = now
            if status in TERMINAL:
                call.ended_at = now
                call.activity = type(call.activity)("ended", call.activity.serial + 1)
                finish_call_recordings(self, call)
            self.timeline.add(call.who, "state", f"call {call.sid[:10]}… {previous} -> {status}", call=call.sid)
            event = STATUS_EVENT.get(status)
            if call.status_callback and event in call.status_callback_events:
                params = self.call_params(call)
                params.update(
                    CallbackSource="call-progress-events",
                    SequenceNumber=str(call.sequence),
                    Timestamp=rfc2822(self.clock.datetime()),
                )
                call.sequence += 1
                if status in TERMINAL:
                    duration = call.duration(now)
                    params.update(CallDuration=str(duration), Duration=str((duration + 59) // 60))
                self.post_callback(call.status_callback, call.status_callback_method, params, call.who, "status")
            self.changed()

    def set_activity(self, call: Call, kind: str, **detail) -> None:
        with self.lock:
            call.activity = type(call.activity)(kind, call.activity.serial + 1, detail)
            self.changed()

    # --- callbacks --------------------------------------------------------------------------
    def post_callback(self, url: str, method: str, params: dict[str, str], who: str, what: str) -> None:
        with self.lock:
            self._callbacks.append(Callback(url, method or "POST", params, who, what))
            self.changed()

    def _dispatch(self) -> None:
        while True:
            self.clock.wait(lambda: bool(self._callbacks) or self._stopping)
            # Let the exchange in flight finish first: Twilio's callbacks arrive after its API answers.
            self.clock.sleep(0)
            with self.lock:
                if not self._callbacks:
                    if self._stopping:
                        return
                    continue
                callback = self._callbacks.popleft()
                self._sending = True
            try:
                self.send(
                    callback.url, callback.method, callback.params, who=callback.who, what=callback.what, callback=True
                )
            finally:
                with self.lock:
                    self._sending = False
                    self.changed()

    def send(
        self, url: str, method: str, params: dict[str, str], *, who: str, what: str, callback: bool = False
    ) -> Answer:
        """One signed request to the app, logged on the timeline with its answer."""
        answer = self.web.request(url, method, params)
        shown = " ".join(f"{k}={params[k]}" for k in SHOWN_PARAMS if params.get(k) not in (None, ""))
        head = f"{method.upper()} {short_path(url)}" + (f" [{shown}]" if shown else "")
        if answer.error:
            self.timeline.add("webhook", "error", f"{head} -> {answer.error}", url=url, what=what, params=params)
            return answer
        body = ""
        if answer.ok and callback:
            body = ""  # Twilio ignores what a callback answers
        elif answer.ok and "xml" in answer.content_type:
            try:
                body = twiml.parse(answer.text, url=url, method=method).summary()
            except twiml.TwimlError as exc:
                body = f"unreadable TwiML ({exc.code})"
        elif not answer.ok:
            body = quote_text(answer.text, 100)
        text = f"{head} -> {answer.status}" + (f" {body}" if body else "")
        kind = "webhook" if answer.ok else "error"
        self.timeline.add(
            "webhook", kind, text, url=url, what=what, params=params, status=answer.status, detail=answer.text
        )
        return answer

    # --- conferences ------------------------------------------------------------------------
    def conference_for(self, name_or_sid: str, *, create: bool) -> Conference | None:
        """The live conference with this SID or friendly name; a new one by that name when asked to create."""
        with self.lock:
            if name_or_sid.startswith("CF") and name_or_sid in self.conferences:
                return self.conferences[name_or_sid]
            for conference in self.conferences.values():
                if conference.friendly_name == name_or_sid and conference.status != "completed":
                    return conference
            if not create:
                return None
            conference = Conference(
                sid=new_sid("CF"), account_sid=self.account_sid, friendly_name=name_or_sid, created_at=self.now()
            )
            conference.updated_at = conference.created_at
            self.conferences[conference.sid] = conference
            return conference

    def subscribe_conference(self, conference: Conference, url: str, method: str, events: set[str]) -> None:
        """Only the first participant's conference status callback counts (Twilio's rule)."""
        with self.lock:
            if url and not conference.status_callback:
                conference.status_callback = url
                conference.status_callback_method = method or "POST"
                conference.status_callback_events = events or {"start", "end"}

    def conference_event(
        self, conference: Conference, event: str, participant: Participant | None = None, **extra: str
    ) -> None:
        with self.lock:
            family = event.split("-", 1)[1] if event.startswith("participant-") else event.split("-", 1)[-1]
            family = {"unhold": "hold", "unmute": "mute"}.get(family, family)
            conference.sequence += 1
            if not conference.status_callback or family not in conference.status_callback_events:
                return
            params = {
                "AccountSid": conference.account_sid,
                "ConferenceSid": conference.sid,
                "FriendlyName": conference.friendly_name,
                "StatusCallbackEvent": event,
                "Timestamp": rfc2822(self.clock.datetime()),
                "SequenceNumber": str(conference.sequence),
            }
            if participant is not None:
                params.update(
                    CallSid=participant.call_sid,
                    Muted=str(participant.muted).lower(),
                    Hold=str(participant.hold).lower(),
                    Coaching=str(participant.coaching).lower(),
                    EndConferenceOnExit=str(participant.end_on_exit).lower(),
                    StartConferenceOnEnter=str(participant.start_on_enter).lower(),
                )
                if participant.label:
                    params["ParticipantLabel"] = participant.label
            params.update(extra)
            self.post_callback(
                conference.status_callback, conference.status_callback_method, params, "conference", event
            )

    def join_conference(self, conference: Conference, participant: Participant) -> None:
        with self.lock:
            call = self.calls[participant.call_sid]
            conference.participants[participant.call_sid] = participant
            participant.joined, participant.status = True, "connected"
            participant.updated_at = conference.updated_at = self.now()
            call.conference_sid = conference.sid
            conference.version += 1
            self.timeline.add(call.who, "conference", f"joins conference {conference.friendly_name!r}")
            self.conference_event(conference, "participant-join", participant)
            if not conference.started and participant.start_on_enter:
                conference.status = "in-progress"
                if conference.record_call_sid:
                    conference.record_started_at = self.now()
                self.timeline.add("conference", "conference", f"{conference.friendly_name!r} starts")
                self.conference_event(conference, "conference-start")
            self.changed()

    def leave_conference(self, conference: Conference, participant: Participant, *, reason: str) -> None:
        """A participant leaves (hung up, kicked, redirected); the conference may end with it."""
        with self.lock:
            if participant.left:
                return
            call = self.calls[participant.call_sid]
            participant.left, participant.status = True, "complete"
            participant.updated_at = conference.updated_at = self.now()
            conference.version += 1
            if participant.joined:
                self.timeline.add(call.who, "conference", f"leaves conference {conference.friendly_name!r} ({reason})")
                call_status = call.status if call.ended else "completed"
                self.conference_event(
                    conference,
                    "participant-leave",
                    participant,
                    ParticipantCallStatus=call_status,
                    ReasonParticipantLeft=reason,
                )
            conference.participants.pop(participant.call_sid, None)
            call.conference_sid = None
            if conference.status != "completed":
                how = "kicked" if participant.kicked == "api" else "left"
                if participant.joined and participant.end_on_exit and conference.started:
                    self.end_conference(
                        conference,
                        reason=f"participant-with-end-conference-on-exit-{how}",
                        call_sid=participant.call_sid,
                    )
                elif not conference.present() and not any(
                    not p.joined and not p.left for p in conference.participants.values()
                ):
                    self.end_conference(conference, reason=f"last-participant-{how}", call_sid=participant.call_sid)
            self.changed()

    def end_conference(self, conference: Conference, *, reason: str, call_sid: str | None = None) -> None:
        with self.lock:
            if conference.status == "completed":
                return
            # Everyone still in the room leaves with it (their participant-leave before the conference-end, as
            # Twilio reports them); their legs notice and move on. Legs still ringing are left to ring.
            for other in list(conference.participants.values()):
                if not other.joined or other.left:
                    continue
                other.kicked = other.kicked or "conference-ended"
                other.left, other.status, other.updated_at = True, "complete", self.now()
                other_call = self.calls[other.call_sid]
                other_call.conference_sid = None
                conference.participants.pop(other.call_sid, None)
                self.timeline.add(
                    other_call.who, "conference", f"leaves conference {conference.friendly_name!r} (it ended)"
                )
                self.conference_event(
                    conference,
                    "participant-leave",
                    other,
                    ParticipantCallStatus="in-progress" if not other_call.ended else other_call.status,
                    ReasonParticipantLeft="conference_ended",
                )
            conference.status = "completed"
            conference.reason_ended = reason
            conference.call_sid_ending = call_sid
            conference.updated_at = self.now()
            conference.version += 1
            self.timeline.add("conference", "conference", f"{conference.friendly_name!r} ends ({reason})")
            extra = {"ReasonConferenceEnded": reason}
            if call_sid:
                extra["CallSidEndingConference"] = call_sid
            self.conference_event(conference, "conference-end", **extra)
            if conference.record_call_sid and conference.record_started_at is not None:
                self._conference_recording(conference)
            self.changed()

    def _conference_recording(self, conference: Conference) -> None:
        call = self.calls[conference.record_call_sid]
        recording = self.new_recording(call, int(round(self.now() - conference.record_started_at)))
        recording.source, recording.conference_sid = "Conference", conference.sid
        self.timeline.add("conference", "conference", f"recording {recording.sid} ({recording.duration} s) is ready")
        if conference.recording_callback:
            params = {
                "AccountSid": conference.account_sid,
                "ConferenceSid": conference.sid,
                "CallSid": call.sid,
                "RecordingSid": recording.sid,
                "RecordingUrl": self.recording_url(recording.sid),
                "RecordingStatus": "completed",
                "RecordingDuration": str(recording.duration),
                "RecordingChannels": "1",
                "RecordingStartTime": rfc2822(self.clock.epoch + timedelta(seconds=conference.record_started_at)),
                "RecordingSource": "Conference",
                "ErrorCode": "0",
            }
            self.post_callback(
                conference.recording_callback, conference.recording_callback_method, params, "conference", "recording"
            )

    # --- recordings -------------------------------------------------------------------------
    def new_recording(self, call: Call, duration: int) -> Recording:
        with self.lock:
            recording = Recording(
                sid=new_sid("RE"),
                account_sid=self.account_sid,
                call_sid=call.sid,
                created_at=self.now(),
                duration=duration,
            )
            self.recordings[recording.sid] = recording
            return recording

    # --- placing calls ----------------------------------------------------------------------
    def place_inbound_call(self, *, from_: str, to: str, party: "Party", caller_name: str = "") -> Call:
        """A person dials one of the account's numbers: Twilio asks the number's voice URL what to do."""
        from .leg import Leg

        config = self.number_config(to)
        if config is None:
            raise ValueError(f"{to} is not one of this account's numbers")
        call = self.new_call(
            from_=from_,
            to=to,
            direction="inbound",
            who=party.name,
            party=party,
            url=config.voice_url,
            method=config.voice_method,
            fallback_url=config.fallback_url,
            fallback_method=config.fallback_method,
            status_callback=config.status_callback,
            status_callback_method=config.status_callback_method,
            # A number's status callback reports the end of the call only.
            status_callback_events={"completed"},
            caller_name=caller_name,
        )
        self.timeline.add(party.name, "dial", f"dials {to} from {from_} ({call.sid})", call=call.sid)
        party.dialing(self, call)
        self.spawn(Leg(self, call).run_inbound, name=f"leg-{call.sid[:8]}")
        return call

    def place_client_call(self, *, identity: str, params: dict[str, str], party: "Party", app_sid: str = "") -> Call:
        """An agent's softphone places a call (Voice SDK `Device.connect({params})`): Twilio asks the TwiML
        application's VoiceUrl, signed like any webhook. As at Twilio the leg is `inbound`, From and Caller are
        `client:<identity>`, Called is empty, and the SDK's custom parameters (`To`, ...) come as form fields."""
        from .leg import Leg

        with self.lock:
            application = self.applications.get(app_sid) if app_sid else next(iter(self.applications.values()), None)
        if application is None:
            raise ValueError(f"no TwiML application {app_sid!r} on this account")
        client = f"client:{identity}"
        call = self.new_call(
            from_=client,
            to=params.get("To", ""),
            direction="inbound",
            who=party.name,
            party=party,
            url=application.voice_url,
            method=application.voice_method or "POST",
            fallback_url=application.voice_fallback_url,
            fallback_method=application.voice_fallback_method or "POST",
            status_callback=application.status_callback,
            status_callback_method=application.status_callback_method or "POST",
            status_callback_events={"completed"},
            extra_params={"ApplicationSid": application.sid, "Called": "", **params},
        )
        self.timeline.add(party.name, "dial", f"softphone calls {call.to or '(no To)'} ({call.sid})", call=call.sid)
        party.dialing(self, call)
        self.spawn(Leg(self, call).run_inbound, name=f"leg-{call.sid[:8]}")
        return call

    def live_calls(self) -> list[Call]:
        with self.lock:
            return [call for call in self.calls.values() if not call.ended]
