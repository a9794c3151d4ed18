"""Recordings as rows: the policy, the agent's start/pause/resume/stop, and Twilio's recording status callbacks.

The edge (voicetwilio.recording) asks `recording_request_start` to decide, tells Twilio, then records the outcome
here. Twilio's status callbacks (`recording_note_callback`) may arrive before our own request has returned, twice,
or out of order: a final state (completed, absent, failed) never changes again, and a callback for a SID we do not
know yet is matched to the call's recording that is still waiting for its SID.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.db import transaction
from django.utils import timezone

from ..models import (
    ACTIVE_RECORDING_STATES,
    Call,
    CallEvent,
    Recording,
    RecordingPolicy,
    RecordingState,
    VoiceConfig,
)
from ..services import StateConflict
from .control import actor
from .log import call_log_note

FINAL_STATUSES = {
    "completed": RecordingState.COMPLETED,
    "absent": RecordingState.ABSENT,
    "failed": RecordingState.FAILED,
}


def recording_policy_for(call: Call) -> str:
    """The one place that decides a call's recording policy: its line's config.

    Hook for departments (issue 16): once a call knows its department, a department's own policy (when set)
    wins over the config's, here and nowhere else.
    """
    config: VoiceConfig | None = call.phone_line.config if call.phone_line_id and call.phone_line else None
    return config.recording_policy if config else RecordingPolicy.OFF


@dataclass(frozen=True)
class RecordingOutcome:
    recording: Recording | None
    changed: bool


def active_recording(*, call_id: int) -> Recording | None:
    return Recording.objects.filter(call_id=call_id, state__in=ACTIVE_RECORDING_STATES).first()


@transaction.atomic
def recording_request_start(*, call_id: int, user=None) -> RecordingOutcome:
    """Decide to record the call: a `requested` row, or the recording already going on (changed=False)."""
    call = Call.objects.select_for_update(of=("self",)).select_related("phone_line__config").get(pk=call_id)
    if not call.is_active:
        raise StateConflict(f"Call {call.call_sid} has ended ({call.status}); it cannot be recorded.")
    if recording_policy_for(call) == RecordingPolicy.OFF:
        raise StateConflict(f"Recording is off for the line of call {call.call_sid} (its config's recordingPolicy).")
    current = active_recording(call_id=call.pk)
    if current is not None:
        return RecordingOutcome(recording=current, changed=False)
    recording = Recording.objects.create(call=call, requested_by=user if user and user.pk else None)
    return RecordingOutcome(recording=recording, changed=True)


@transaction.atomic
def recording_record_started(*, recording_id: int, recording_sid: str, user=None) -> Recording:
    """Twilio accepted the start: the row gets its SID (unless a callback has brought it already) and is logged."""
    recording = Recording.objects.select_for_update(of=("self",)).select_related("call").get(pk=recording_id)
    now = timezone.now()
    recording.recording_sid = recording.recording_sid or recording_sid
    if recording.state == RecordingState.REQUESTED:
        recording.state = RecordingState.IN_PROGRESS
    recording.started_at = recording.started_at or now
    recording.save(update_fields=["recording_sid", "state", "started_at", "updated_at"])
    call_log_note(
        call=recording.call,
        event=CallEvent.RECORDING,
        message="Recording started",
        data={"recording": recording.pk, "recordingSid": recording.recording_sid, **actor(user)},
    )
    return recording


@transaction.atomic
def recording_record_failed(*, recording_id: int, reason: str) -> None:
    """Twilio refused to start: the row is failed (never active), so Start may be pressed again."""
    recording = Recording.objects.select_for_update(of=("self",)).select_related("call").get(pk=recording_id)
    if recording.state != RecordingState.REQUESTED:
        return
    recording.state, recording.failure = RecordingState.FAILED, reason[:500]
    recording.save(update_fields=["state", "failure", "updated_at"])
    call_log_note(
        call=recording.call,
        event=CallEvent.RECORDING,
        message=f"Recording could not start: {reason}"[:2000],
        data={"recording": recording.pk},
    )


def _close_pause(recording: Recording, now: datetime) -> int:
    """End the pause going on (if any): its seconds are added to paused_seconds and returned."""
    if recording.state != RecordingState.PAUSED or recording.paused_at is None:
        return 0
    seconds = max(0, round((now - recording.paused_at).total_seconds()))
    recording.paused_seconds += seconds
    recording.paused_at = None
    return seconds


# What each agent action needs, does, and says on the timeline.
TRANSITIONS = {
    "pause": ({RecordingState.IN_PROGRESS}, RecordingState.PAUSED, "Recording paused"),
    "resume": ({RecordingState.PAUSED}, RecordingState.IN_PROGRESS, "Recording resumed"),
    "stop": (set(ACTIVE_RECORDING_STATES), RecordingState.STOPPED, "Recording stopped"),
}
# Where each action leaves a recording: asking again there changes nothing (idempotent, 200 changed=false).
ALREADY = {"pause": RecordingState.PAUSED, "resume": RecordingState.IN_PROGRESS, "stop": RecordingState.STOPPED}


def recording_for_action(*, call: Call, action: str) -> RecordingOutcome:
    """The recording `action` applies to; changed=False when it is there already; 409 when there is none."""
    if action != "stop" and not call.is_active:
        raise StateConflict(f"Call {call.call_sid} has ended ({call.status}); its recording cannot be {action}d.")
    current = active_recording(call_id=call.pk)
    if current is None:
        latest = Recording.objects.filter(call_id=call.pk).exclude(state=RecordingState.FAILED).first()
        if action == "stop" and latest is not None:
            return RecordingOutcome(recording=latest, changed=False)
        raise StateConflict(f"Call {call.call_sid} is not being recorded; start a recording first.")
    allowed, _target, _message = TRANSITIONS[action]
    if current.state == ALREADY[action]:
        return RecordingOutcome(recording=current, changed=False)
    if current.state not in allowed or not current.recording_sid:
        raise StateConflict(f"The recording of call {call.call_sid} is {current.state}; it cannot be {action}d now.")
    return RecordingOutcome(recording=current, changed=True)


@transaction.atomic
def recording_record_action(*, recording_id: int, action: str, user=None) -> RecordingOutcome:
    """Twilio has paused, resumed or stopped the recording: move the row (once, however many clicks raced)."""
    recording = Recording.objects.select_for_update(of=("self",)).select_related("call").get(pk=recording_id)
    allowed, target, message = TRANSITIONS[action]
    if recording.state not in allowed:
        return RecordingOutcome(recording=recording, changed=False)
    now = timezone.now()
    data = {"recording": recording.pk, "recordingSid": recording.recording_sid, **actor(user)}
    paused = _close_pause(recording, now)
    if paused:
        data["pausedSeconds"] = paused
    if target == RecordingState.PAUSED:
        recording.paused_at, recording.pause_count = now, recording.pause_count + 1
    if target == RecordingState.STOPPED:
        recording.ended_at = now
    recording.state = target
    recording.save()
    call_log_note(call=recording.call, event=CallEvent.RECORDING, message=message, data=data)
    return RecordingOutcome(recording=recording, changed=True)


def _start_time(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        return None


def recording_note_callback(
    *,
    call: Call,
    recording_sid: str,
    status: str,
    media_url: str,
    duration: int | None,
    data: dict,
) -> Recording | None:
    """A recording status callback (or a voicemail's <Record> action, status ""), inside the caller's transaction
    with the call locked: create or update the recording's row. Out of order and replay safe (module docstring)."""
    if not recording_sid:
        return None
    recording = Recording.objects.filter(recording_sid=recording_sid).first()
    if recording is None:
        # Our start request may not have returned yet: its row waits for this SID.
        recording = Recording.objects.filter(call=call, recording_sid="", state=RecordingState.REQUESTED).first()
    if recording is None:
        # A recording we did not start through the API: a voicemail, or one Twilio made from TwiML.
        state = RecordingState.IN_PROGRESS if status == "in-progress" else RecordingState.REQUESTED
        if state == RecordingState.IN_PROGRESS and active_recording(call_id=call.pk) is not None:
            state = RecordingState.STOPPED  # another recording is the active one; this one only waits to complete
        recording = Recording(call=call, state=state)
    recording.recording_sid = recording.recording_sid or recording_sid
    recording.source = recording.source or str(data.get("RecordingSource", ""))[:40]
    channels = str(data.get("RecordingChannels", ""))
    if channels in ("1", "2"):
        recording.channels = int(channels)
    recording.started_at = recording.started_at or _start_time(str(data.get("RecordingStartTime", "")))
    if recording.is_final:
        # Final is final: a replay or a late in-progress changes nothing.
        return recording
    now = timezone.now()
    if status == "in-progress":
        if recording.state == RecordingState.REQUESTED:
            recording.state = RecordingState.IN_PROGRESS
            recording.started_at = recording.started_at or now
    elif status in FINAL_STATUSES or (status == "" and media_url):
        _close_pause(recording, now)
        recording.state = FINAL_STATUSES.get(status, RecordingState.COMPLETED)
        recording.ended_at = recording.ended_at or now
        recording.duration_seconds = duration if duration is not None else recording.duration_seconds
        recording.media_url = media_url[:500] or recording.media_url
        recording.failure = str(data.get("ErrorCode", ""))[:500] if status == "failed" else ""
    recording.save()
    return recording


def recordings_past_retention(*, now: datetime | None = None) -> list[Recording]:
    """Recordings older than their line's retention (configs with 0 keep theirs), oldest first."""
    now = now or timezone.now()
    expired: list[Recording] = []
    for config in VoiceConfig.objects.filter(recording_retention_days__gt=0):
        cutoff = now - timedelta(days=config.recording_retention_days)
        expired.extend(
            Recording.objects.filter(call__phone_line__config=config, created_at__lt=cutoff).select_related("call")
        )
    return sorted(expired, key=lambda row: row.created_at)


@transaction.atomic
def recording_forget(*, recording_id: int, reason: str) -> bool:
    """Delete a recording's row once Twilio has deleted its audio (the call's timeline says so). False: gone already."""
    recording = Recording.objects.select_for_update(of=("self",)).select_related("call").filter(pk=recording_id).first()
    if recording is None:
        return False
    call = recording.call
    if call.recording_sid and call.recording_sid == recording.recording_sid:
        Call.objects.filter(pk=call.pk).update(recording_url="", updated_at=timezone.now())
    call_log_note(
        call=call,
        event=CallEvent.RECORDING,
        message=f"Recording {recording.recording_sid or recording.pk} deleted: {reason}"[:2000],
        data={"recording": recording.pk, "recordingSid": recording.recording_sid},
        dedupe_key=f"rec-deleted:{recording.pk}",
    )
    recording.delete()
    return True
