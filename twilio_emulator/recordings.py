"""Call recordings over REST (Calls/{CallSid}/Recordings.json) and who hears whom in a conference.

Recordings as Twilio makes them: started on a live call, paused (PauseBehavior=skip leaves the paused span out of
the audio and the duration; the default, silence, keeps it as silence), resumed, stopped; stopping or the call
ending completes the recording and posts its status callback with the duration.

Audibility as Twilio's conferences work: a muted participant is heard by nobody; a coaching participant
(Coaching=true, CallSidToCoach) only by the participant being coached; anyone else by every other participant.
The timeline says who hears each supervisor-like participant whenever that changes, so scenarios can check it.
"""

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .model import Call, Conference, Participant, Recording
from .util import API_VERSION, event_set, rfc2822

if TYPE_CHECKING:
    from .rest import ApiError, RestApi  # noqa: F401

ACTIVE = ("in-progress", "paused")


def heard_by(world, conference: Conference, participant: Participant) -> list[str]:
    """Who in the conference hears `participant` (names as the timeline gives them)."""
    if participant.muted:
        return []
    others = [p for p in conference.participants.values() if p.call_sid != participant.call_sid and not p.left]
    if participant.coaching:
        others = [p for p in others if p.call_sid == participant.call_sid_to_coach]
    return [world.calls[p.call_sid].who for p in others if p.call_sid in world.calls]


def note_audibility(world, conference: Conference, participant: Participant) -> None:
    """Put on the timeline who hears this participant now (called when it is added or changed)."""
    call = world.calls.get(participant.call_sid)
    if call is None:
        return
    listeners = heard_by(world, conference, participant)
    text = (
        f"is heard by {', '.join(listeners)} only"
        if participant.coaching
        else ("is heard by nobody (muted)" if participant.muted else "is heard by everyone on the call")
    )
    world.timeline.add(call.who, "note", f"{call.who} {text}", call=call.sid)


class CallRecordings:
    """The REST handlers, mounted by rest.RestApi."""

    def __init__(self, api: "RestApi"):
        self.api = api
        self.world = api.world

    def add_routes(self, add, account: str, sid32: str) -> None:
        add("POST", rf"{account}/Calls/(?P<sid>CA{sid32})/Recordings\.json", self.create)
        add("POST", rf"{account}/Calls/(?P<sid>CA{sid32})/Recordings/(?P<rec>RE{sid32})\.json", self.update)
        add("DELETE", rf"{account}/Recordings/(?P<rec>RE{sid32})\.json", self.delete)

    def _json(self, recording: Recording) -> dict[str, Any]:
        base = self.api._base()
        return {
            "account_sid": recording.account_sid,
            "api_version": API_VERSION,
            "call_sid": recording.call_sid,
            "conference_sid": recording.conference_sid,
            "sid": recording.sid,
            "status": recording.status,
            "channels": recording.channels,
            "source": recording.source,
            "start_time": self.api._date(recording.started_at),
            "date_updated": self.api._date(self.world.now()),
            "duration": str(recording.duration) if recording.status == "completed" else "-1",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "track": "both",
            "uri": f"{base}/Calls/{recording.call_sid}/Recordings/{recording.sid}.json",
        }

    def create(self, form, sid: str):
        from .rest import ApiError

        call: Call = self.api._call(sid)
        if call.status != "in-progress":
            raise ApiError(400, 21220, f"Call {sid} is not in-progress; it cannot be recorded")
        recording = self.world.new_recording(call, 0)
        with self.world.lock:
            recording.source = "StartCallRecordingAPI"
            recording.status = "in-progress"
            recording.channels = 2 if form.get("RecordingChannels") == "dual" else 1
            recording.started_at = self.world.now()
            recording.callback = form.get("RecordingStatusCallback") or ""
            recording.callback_method = form.get("RecordingStatusCallbackMethod") or "POST"
            recording.callback_events = event_set(form.many("RecordingStatusCallbackEvent"), "completed")
        self.world.timeline.add("api", "api", f"Recordings.create on {call.who}'s call -> {recording.sid}")
        self._callback(recording, "in-progress")
        return 201, self._json(recording)

    def update(self, form, sid: str, rec: str):
        from .rest import ApiError

        with self.world.lock:
            recording = self.world.recordings.get(rec)
        if recording is None or recording.call_sid != sid:
            raise ApiError(404, 20404, f"The requested resource Recordings/{rec}.json was not found")
        wanted = form.get("Status") or ""
        if wanted not in ("paused", "in-progress", "stopped"):
            raise ApiError(400, 21220, f"Invalid Status {wanted!r}")
        if recording.status not in ACTIVE:
            raise ApiError(400, 21220, f"Recording {rec} is {recording.status}")
        now = self.world.now()
        with self.world.lock:
            if wanted == "paused" and recording.status == "in-progress":
                recording.status, recording.paused_at = "paused", now
                recording.pause_behavior = form.get("PauseBehavior") or "silence"
            elif wanted == "in-progress" and recording.status == "paused":
                self._close_pause(recording, now)
                recording.status = "in-progress"
        self.world.timeline.add("api", "api", f"Recordings.update {rec[:10]}… -> {wanted}")
        if wanted == "stopped":
            self.finish(recording)
        return 200, self._json(recording)

    def delete(self, form, rec: str):
        from .rest import ApiError

        with self.world.lock:
            recording = self.world.recordings.pop(rec, None)
        if recording is None:
            raise ApiError(404, 20404, f"The requested resource Recordings/{rec}.json was not found")
        self.world.timeline.add("api", "api", f"Recordings.delete {rec[:10]}…")
        return 204, None

    @staticmethod
    def _close_pause(recording: Recording, now: float) -> None:
        if recording.paused_at is not None:
            if recording.pause_behavior == "skip":
                recording.paused_seconds += now - recording.paused_at
            recording.paused_at = None

    def finish(self, recording: Recording) -> None:
        """Complete the recording: its duration is the time recorded, paused spans skipped when asked to."""
        now = self.world.now()
        with self.world.lock:
            if recording.status not in ACTIVE:
                return
            self._close_pause(recording, now)
            recording.status = "completed"
            recording.duration = max(0, int(round(now - (recording.started_at or now) - recording.paused_seconds)))
        self.world.timeline.add(
            "twilio", "note", f"recording {recording.sid} ({recording.duration} s, pauses skipped) is ready"
        )
        self._callback(recording, "completed")

    def _callback(self, recording: Recording, status: str) -> None:
        if not recording.callback or status not in recording.callback_events:
            return
        params = {
            "AccountSid": recording.account_sid,
            "CallSid": recording.call_sid,
            "RecordingSid": recording.sid,
            "RecordingUrl": self.world.recording_url(recording.sid),
            "RecordingStatus": status,
            "RecordingChannels": str(recording.channels),
            "RecordingSource": recording.source,
            "RecordingTrack": "both",
            "RecordingStartTime": rfc2822(self.world.clock.epoch + timedelta(seconds=recording.started_at or 0)),
            "ErrorCode": "0",
        }
        if status == "completed":
            params["RecordingDuration"] = str(recording.duration)
        self.world.post_callback(recording.callback, recording.callback_method, params, "twilio", "recording")


def finish_call_recordings(world, call: Call) -> None:
    """The call ended: its recordings still going complete now (as Twilio does)."""
    api = getattr(world, "call_recordings", None)
    if api is None:
        return
    for recording in [r for r in list(world.recordings.values()) if r.call_sid == call.sid and r.status in ACTIVE]:
        api.finish(recording)
