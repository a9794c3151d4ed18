"""The emulator's records: calls, conferences and their participants, recordings.

They are plain objects guarded by the clock's lock; threads never hold that lock across HTTP.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .people import Party

TERMINAL = {"completed", "busy", "no-answer", "canceled", "failed"}
# Which call-progress event (StatusCallbackEvent) reports each status.
STATUS_EVENT = {
    "initiated": "initiated",
    "ringing": "ringing",
    "in-progress": "answered",
    **{status: "completed" for status in TERMINAL},
}


@dataclass
class PartyInput:
    """Something a person did on the line: keys pressed, words said, or a message left."""

    kind: str  # "dtmf" | "speech" | "message"
    value: str = ""
    seconds: float = 0.0
    end: str = "hangup"  # how a message ends: "hangup", a key such as "#", or "silence"


@dataclass
class Activity:
    """What the person on a leg is experiencing now; scripted people wait for these."""

    kind: str  # ringing, hearing, gather, record, waiting, connected, held, silence, ended
    serial: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Call:
    sid: str
    account_sid: str
    from_: str
    to: str
    direction: str  # inbound | outbound-api | outbound-dial
    who: str  # the person at the far end, as the timeline names them
    party: "Party"
    created_at: float
    status: str = "queued"
    parent_sid: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    url: str = ""
    method: str = "POST"
    fallback_url: str = ""
    fallback_method: str = "POST"
    twiml: str = ""
    status_callback: str = ""
    status_callback_method: str = "POST"
    status_callback_events: set[str] = field(default_factory=set)
    sequence: int = 0
    timeout: int = 60
    caller_name: str = ""
    # Request parameters of a softphone's call beyond the standard ones: ApplicationSid and the custom parameters
    # the SDK's `Device.connect({params})` sent (To, line, ...), on every request about the call.
    extra_params: dict[str, str] = field(default_factory=dict)
    # Steering from outside the leg's own thread (REST requests, the person on the line).
    redirect: tuple[str, str, str] | None = None  # ("url", url, method) or ("twiml", xml, "")
    hangup: str | None = None  # why the leg must end: party, api, twiml, conference, ...
    input: PartyInput | None = None
    activity: Activity = field(default_factory=lambda: Activity("ringing", 0))
    conference_sid: str | None = None
    bridged_with: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def duration(self, now: float) -> int:
        if self.answered_at is None:
            return 0
        return int(round((self.ended_at if self.ended_at is not None else now) - self.answered_at))


@dataclass(eq=False)
class Participant:
    call_sid: str
    conference_sid: str
    created_at: float
    label: str = ""
    muted: bool = False
    hold: bool = False
    hold_url: str = ""
    hold_method: str = "GET"
    start_on_enter: bool = True
    end_on_exit: bool = False
    coaching: bool = False
    call_sid_to_coach: str = ""
    beep: str = "true"
    wait_url: str = ""
    wait_method: str = "POST"
    announce_url: str = ""  # a participant announcement to play next (Participants.update AnnounceUrl)
    announce_method: str = "POST"
    status: str = "queued"  # queued, connecting, ringing, connected, complete, failed
    updated_at: float = 0.0
    joined: bool = False
    left: bool = False
    kicked: str | None = None  # why it was removed: "api", "conference-ended"
    via_api: bool = False  # created by the Participants API (its leg hangs up when it leaves)


@dataclass(eq=False)
class Conference:
    sid: str
    account_sid: str
    friendly_name: str
    created_at: float
    updated_at: float = 0.0
    status: str = "init"  # init, in-progress, completed
    participants: dict[str, Participant] = field(default_factory=dict)
    status_callback: str = ""
    status_callback_method: str = "POST"
    status_callback_events: set[str] = field(default_factory=set)
    sequence: int = 0
    version: int = 0  # bumped on every membership or hold change, so a leg notices and re-describes the room
    reason_ended: str | None = None
    call_sid_ending: str | None = None
    # <Conference record="record-from-start">: recorded from its start, reported when it ends.
    record_call_sid: str = ""
    record_started_at: float | None = None
    recording_callback: str = ""
    recording_callback_method: str = "POST"

    @property
    def started(self) -> bool:
        return self.status == "in-progress"

    def present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.joined and not p.left]


@dataclass(eq=False)
class Recording:
    sid: str
    account_sid: str
    call_sid: str
    created_at: float
    duration: int
    source: str = "RecordVerb"
    conference_sid: str | None = None
    # A call recording made over REST (Calls/{sid}/Recordings.json): its state, pauses and status callback.
    status: str = "completed"  # in-progress, paused, stopped, completed
    channels: int = 1
    started_at: float | None = None
    paused_at: float | None = None
    paused_seconds: float = 0.0
    pause_behavior: str = "silence"  # Twilio's default; "skip" leaves the paused span out of the audio
    callback: str = ""
    callback_method: str = "POST"
    callback_events: set[str] = field(default_factory=set)
