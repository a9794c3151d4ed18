"""Conference and recording events: logged once each; they tell us SIDs and facts, never move the stage."""

from django.db import transaction

from ..models import Call, CallEvent, CallStatus
from .log import call_log_add, call_log_unknown
from .recordings import recording_note_callback
from .status import call_note_status
from .supervision import supervision_note_leg


@transaction.atomic
def call_apply_conference_event(
    *,
    call_sid: str,
    conference_sid: str,
    event: str,
    participant_sid: str = "",
    sequence_number: int | None = None,
    data: dict | None = None,
) -> Call | None:
    """Log a conference event; the first one tells us the conference SID (hold and transfer need it), the caller
    joining that Twilio has answered their call."""
    dedupe_key = f"conf:{conference_sid}:{event}:{participant_sid}:{'' if sequence_number is None else sequence_number}"
    call = Call.objects.filter(call_sid=call_sid).first() if call_sid else None
    # The same event, whether it is logged on the call or as news of a call we never saw.
    logged = {"dedupe_key": dedupe_key, "data": data, "sequence_number": sequence_number}
    if call is None:
        call_log_unknown(call_sid=call_sid, message="Conference event for a call we never saw.", **logged)
        return None
    call_log_add(call=call, call_sid=call_sid, event=CallEvent.CONFERENCE, message=event, **logged)
    if conference_sid and not call.conference_sid:
        Call.objects.filter(pk=call.pk, conference_sid="").update(conference_sid=conference_sid)
        call.conference_sid = conference_sid
    if participant_sid and participant_sid != call_sid and event in ("participant-join", "participant-leave"):
        # Perhaps a supervisor's softphone: joining puts them on the call, leaving ends their supervision.
        supervision_note_leg(call=call, leg_sid=participant_sid, joined=event == "participant-join")
    if event == "participant-join" and participant_sid == call_sid:
        # The caller is in the conference, so Twilio has answered their call (these events carry no CallStatus).
        call_note_status(call=call, status=CallStatus.IN_PROGRESS, source="conference")
    return call


@transaction.atomic
def call_store_recording(
    *,
    call_sid: str,
    recording_sid: str,
    recording_url: str,
    duration: int | None,
    voicemail: bool,
    recording_status: str = "",
    data: dict | None = None,
) -> Call | None:
    """Keep a recording (a voicemail or the conversation) on the call; every copy of the news logs once."""
    dedupe_key = f"rec:{recording_sid or recording_url}:{recording_status or 'action'}"
    call = Call.objects.select_for_update().filter(call_sid=call_sid).first() if call_sid else None
    if call is None:
        call_log_unknown(
            call_sid=call_sid, dedupe_key=dedupe_key, data=data, message="Recording for a call we never saw."
        )
        return None
    has_audio = bool(recording_url) and (duration is None or duration > 0)
    call_log_add(
        call=call,
        call_sid=call_sid,
        event=CallEvent.VOICEMAIL if voicemail else CallEvent.RECORDING,
        dedupe_key=dedupe_key,
        call_status=recording_status,
        # Twilio's media URL stays on the server (docs/recording.md): the timeline names the recording, not its URL.
        message=f"Recording {recording_sid} {recording_status or 'saved'}"
        + (f" ({duration} s)" if duration is not None else "")
        if has_audio
        else "Nothing was recorded.",
        data=data,
    )
    recording_note_callback(
        call=call,
        recording_sid=recording_sid,
        status=recording_status,
        media_url=recording_url if has_audio else "",
        duration=duration,
        data=data or {},
    )
    if has_audio and recording_status in ("", "completed"):
        call.recording_url = recording_url[:500]
        call.recording_sid = recording_sid[:34] or call.recording_sid
        call.recording_duration = duration if duration is not None else call.recording_duration
        call.voicemail = call.voicemail or voicemail
        call.save(update_fields=["recording_url", "recording_sid", "recording_duration", "voicemail", "updated_at"])
    return call
