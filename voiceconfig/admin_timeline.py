"""A call's timeline in plain words, for a contact-centre manager rather than for the engineer who logged it.

Each CallLog row keeps what Twilio sent (status values, conference event names, ids in `data`); this module
turns a row into one sentence ("Alice answered", "Caller pressed 1", "Caller hung up"). The first line is always
the call coming in, read from the call itself, so the timeline starts where the caller's experience starts even
when the first logged event is a later one.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .admin_views import format_duration
from .models import Call, CallDirection, CallEvent, CallLog, VoiceAgent

# What the caller's line did, by Twilio's CallStatus.
CALLER_STATUS_WORDS = {
    "queued": "Call queued at Twilio",
    "initiated": "Call placed",
    "ringing": "Our number is ringing",
    "in-progress": "Call answered",
    "completed": "Call ended",
    "busy": "The line was busy",
    "no-answer": "Nobody answered",
    "canceled": "Caller hung up before the call was answered",
    "failed": "The call failed",
}

# What an agent's browser leg did, by Twilio's CallStatus of that leg ({agent} is the agent's name).
AGENT_STATUS_WORDS = {
    "queued": "Calling {agent}",
    "initiated": "Calling {agent}",
    "ringing": "{agent}'s softphone is ringing",
    "in-progress": "{agent} answered",
    "completed": "{agent} left the call",
    "busy": "{agent} was busy",
    "no-answer": "{agent} did not answer",
    "canceled": "Stopped ringing {agent}",
    "failed": "Could not reach {agent}'s softphone",
}

# Twilio's conference events (StatusCallbackEvent); {who} is the caller or the agent the event is about.
CONFERENCE_WORDS = {
    "conference-start": "Conference started",
    "conference-end": "Conference ended",
    "participant-join": "{who} joined the conference",
    "participant-leave": "{who} left the conference",
    "participant-hold": "{who} put on hold",
    "participant-unhold": "{who} taken off hold",
    "participant-mute": "{who} muted",
    "participant-unmute": "{who} unmuted",
    "participant-speech-start": "{who} started speaking",
    "participant-speech-stop": "{who} stopped speaking",
    "announcement-end": "Announcement finished",
    "announcement-fail": "Announcement failed",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # a CallEvent value, or "arrived" for the call coming in: the CSS class of the dot
    title: str
    detail: str = ""
    link: str = ""  # a recording to listen to


def _agent_names(logs: Iterable[CallLog], call: Call) -> dict[int, str]:
    """Every agent the logs mention, by id, in one query."""
    ids = {call.agent_id} if call.agent_id else set()
    for log in logs:
        value = log.data.get("agent") if isinstance(log.data, dict) else None
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            ids.add(int(value))
    return {agent.pk: str(agent) for agent in VoiceAgent.objects.filter(pk__in=ids)}


def _data(log: CallLog) -> dict:
    return log.data if isinstance(log.data, dict) else {}


def _agent_name(log: CallLog, names: dict[int, str]) -> str:
    value = _data(log).get("agent")
    try:
        return names.get(int(value), f"Agent #{value}")
    except (TypeError, ValueError):
        return "The agent"


def _caller_status(log: CallLog) -> tuple[str, str]:
    if log.call_status in CALLER_STATUS_WORDS:
        title = CALLER_STATUS_WORDS[log.call_status]
    else:
        title = f"Twilio says the call is {log.call_status}" if log.call_status else "Status update"
    return title, log.message


def _agent_leg(log: CallLog, names: dict[int, str]) -> tuple[str, str]:
    template = AGENT_STATUS_WORDS.get(log.call_status, "{agent}'s softphone: " + (log.call_status or "update"))
    return template.format(agent=_agent_name(log, names)), log.message


def _ivr_input(log: CallLog) -> tuple[str, str]:
    data = _data(log)
    digits, speech = data.get("digits") or data.get("Digits"), data.get("speech") or data.get("SpeechResult")
    if digits:
        title = f"Caller pressed {digits}"
    elif speech:
        title = f"Caller said “{speech}”"
    else:
        title = "Caller chose nothing"
    return title, log.message


def _conference(log: CallLog, call: Call) -> tuple[str, str]:
    event = log.message or str(_data(log).get("StatusCallbackEvent", ""))
    participant = _data(log).get("CallSid") or _data(log).get("callSid")
    who = "Caller" if participant == call.call_sid else "Agent" if participant else "Someone"
    template = CONFERENCE_WORDS.get(event, "Conference: " + event.replace("-", " "))
    return template.format(who=who), ""


def _recording(log: CallLog) -> tuple[str, str, str]:
    what = "Voicemail" if log.event == CallEvent.VOICEMAIL else "Recording"
    if log.message.startswith(("http://", "https://")):
        seconds = _data(log).get("RecordingDuration") or _data(log).get("recordingDuration")
        length = f" ({format_duration(int(seconds))})" if str(seconds or "").isdigit() else ""
        return f"{what} saved{length}", "", log.message
    return f"{what}: {log.message or 'nothing was recorded'}", "", ""


def describe(log: CallLog, call: Call, names: dict[int, str]) -> TimelineEntry:
    """One logged event as a sentence a manager reads without knowing Twilio."""
    link = ""
    if log.event == CallEvent.STATUS:
        title, detail = _caller_status(log)
    elif log.event == CallEvent.AGENT:
        title, detail = _agent_leg(log, names)
    elif log.event == CallEvent.IVR_INPUT:
        title, detail = _ivr_input(log)
    elif log.event == CallEvent.CONFERENCE:
        title, detail = _conference(log, call)
    elif log.event in (CallEvent.RECORDING, CallEvent.VOICEMAIL):
        title, detail, link = _recording(log)
    elif log.event == CallEvent.NOTE:
        title, detail = "Note", log.message
    else:
        # Routing, hold, resume and transfer rows are written as sentences by the code that decides them.
        title, detail = log.message or log.get_event_display(), ""
    return TimelineEntry(at=log.created_at, kind=log.event, title=title, detail=detail, link=link)


def arrival(call: Call) -> TimelineEntry:
    """The call coming in (or going out): the first line of every timeline."""
    line = str(call.phone_line) if call.phone_line_id else call.to_number
    if call.direction == CallDirection.INBOUND:
        title = f"Call came in from {call.from_number or 'an unknown number'}"
        detail = f"to {line}" if line else ""
    else:
        title = f"Call placed to {call.to_number or 'an unknown number'}"
        detail = f"from {call.from_number}" if call.from_number else ""
    return TimelineEntry(at=call.started_at or call.created_at, kind="arrived", title=title, detail=detail)


def timeline_entries(call: Call) -> list[TimelineEntry]:
    logs = list(call.logs.order_by("created_at", "id"))
    names = _agent_names(logs, call)
    return [arrival(call), *(describe(log, call, names) for log in logs)]


def call_timeline(call: Call) -> SafeString:
    """Every event of the call in order, with the clock time and the time since the call came in."""
    if call.pk is None:
        return format_html('<span class="voice-muted">{}</span>', "No events yet.")
    entries = timeline_entries(call)
    start = entries[0].at
    items = format_html_join(
        "",
        '<li class="voice-tl-{}"><time class="voice-tl-time" datetime="{}">{}</time>'
        '<span class="voice-tl-event">{}</span>{}{}<span class="voice-tl-offset">{}</span></li>',
        (
            (
                entry.kind,
                entry.at.isoformat(),
                f"{timezone.localtime(entry.at):%H:%M:%S}",
                entry.title,
                format_html(' <span class="voice-tl-detail">{}</span>', entry.detail) if entry.detail else "",
                format_html(' <a href="{}" rel="noreferrer">Listen</a>', entry.link) if entry.link else "",
                "" if index == 0 else "+" + format_duration(max((entry.at - start).total_seconds(), 0)),
            )
            for index, entry in enumerate(entries)
        ),
    )
    count = len(entries) - 1
    summary = f"{count} event{'s' if count != 1 else ''} recorded after the call came in"
    return format_html('<p class="voice-muted">{}</p><ol class="voice-timeline">{}</ol>', summary, items)
