"""Read-only pictures on admin pages: a config's week at a glance, a call's durations and state."""

from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .admin_views import format_duration
from .models import Call, CallStage, CallStatus, Recording, RecordingState, VoiceConfig, Weekday


def week_at_a_glance(config: VoiceConfig) -> SafeString:
    """Each weekday and its opening ranges, as stored (the form below edits them)."""
    if config.pk is None:
        return format_html('<span class="voice-muted">{}</span>', "Save the config to see its week.")
    ranges: dict[int, list[str]] = {day.value: [] for day in Weekday}
    for hours in config.business_hours.all():
        overnight = " (overnight)" if hours.closes_at < hours.opens_at else ""
        ranges[hours.weekday].append(f"{hours.opens_at:%H:%M}–{hours.closes_at:%H:%M}{overnight}")
    if not any(ranges.values()):
        note = "No business hours: the line is open around the clock"
        holidays = config.holidays.count()
        if holidays:
            note += f", except on {holidays} holiday{'s' if holidays != 1 else ''}"
        return format_html("<span>{}.</span>", note)
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td class="{}">{}</td></tr>',
        (
            (day.label, "" if ranges[day.value] else "voice-closed", ", ".join(ranges[day.value]) or "closed")
            for day in Weekday
        ),
    )
    return format_html('<table class="voice-week"><tbody>{}</tbody></table>', rows)


def _live(since: datetime, now: datetime) -> SafeString:
    """A duration still running: rendered now, ticked each second by voice/live_durations.js."""
    return format_html(
        '<span class="voice-live" data-live-since="{}" title="Still running">{}</span>',
        since.isoformat(),
        format_duration((now - since).total_seconds()),
    )


def call_wait(call: Call, now: datetime | None = None) -> SafeString | str:
    """How long the caller waited for an agent: counting while they still wait."""
    now = now or timezone.now()
    if call.is_active and call.queued_at and not call.answered_at:
        return _live(call.queued_at, now)
    return format_duration(call.wait_seconds) if call.queued_at or call.wait_seconds else "–"


def call_talk(call: Call, now: datetime | None = None) -> SafeString | str:
    """How long the caller talked to an agent: counting while they still talk."""
    now = now or timezone.now()
    if call.is_active and call.answered_at:
        return _live(call.answered_at, now)
    return format_duration(call.talk_seconds) if call.answered_at or call.talk_seconds else "–"


def call_hold(call: Call, now: datetime | None = None) -> SafeString | str:
    """Time on hold, with the hold under way still counting on top of the finished ones."""
    now = now or timezone.now()
    if call.is_active and call.on_hold and call.hold_started_at:
        return format_html(
            '{} <span class="voice-muted">on hold now: {}</span>',
            format_duration(call.hold_seconds),
            _live(call.hold_started_at, now),
        )
    return format_duration(call.hold_seconds) if call.hold_seconds else "–"


# What a manager reads in the Status column: a live call by where the caller is, an ended one by how it ended.
# Short words, so the list fits a laptop screen; the call page's timeline tells the whole story.
ENDED_OUTCOMES = {
    CallStage.VOICEMAIL: "Voicemail",
    CallStage.MESSAGE: "Message played",
    CallStage.FORWARDED: "Forwarded",
    CallStage.REJECTED: "Rejected",
    CallStage.ABANDONED: "Abandoned",
}
LIVE_STAGES = {
    CallStage.NEW: "Coming in",
    CallStage.IVR: "In the menu",
    CallStage.QUEUED: "Waiting",
    CallStage.CONNECTED: "Talking",
}


def call_state(call: Call) -> SafeString:
    if call.is_active:
        words = "On hold" if call.on_hold else LIVE_STAGES.get(call.stage, call.get_stage_display())
        return format_html('<span class="voice-call-live" title="{}">{}</span>', call.get_stage_display(), words)
    outcome = ENDED_OUTCOMES.get(call.stage)
    if outcome and call.status == CallStatus.COMPLETED:
        return format_html('<span title="{}">{}</span>', call.get_stage_display(), outcome)
    return format_html("{}", call.get_status_display())


def call_recording(call: Call) -> SafeString | str:
    """The call's recordings (or voicemail) to play in the page, through our streaming endpoint: Twilio's media URL
    never reaches the browser (docs/recording.md)."""
    rows = [row for row in call.recordings.all() if row.state == RecordingState.COMPLETED and row.recording_sid]
    if not rows and call.recording_sid and call.recording_url:
        rows = [Recording(recording_sid=call.recording_sid, duration_seconds=call.recording_duration, state="")]
    if not rows:
        return "–"
    what = "Voicemail" if call.voicemail else "Recording"
    return format_html_join(
        "",
        '<p><audio controls preload="none" src="{}"></audio> <span class="voice-muted">{} {}{}</span> '
        '<a href="{}?download=1">Download</a></p>',
        (
            (
                reverse("recording-media", kwargs={"pk": row.recording_sid}),
                what,
                format_duration(row.duration_seconds) if row.duration_seconds is not None else "",
                f", paused {row.pause_count}x ({row.paused_seconds} s, left out)" if row.pause_count else "",
                reverse("recording-media", kwargs={"pk": row.recording_sid}),
            )
            for row in rows
        ),
    )


def call_transfers(call: Call) -> SafeString | str:
    """The call's transfers, one row each, with every column the Transfer model has (issue 11 adds the model)."""
    related = getattr(call, "transfers", None)
    if related is None:
        return "–"
    rows = list(related.all())
    if not rows:
        return "No transfers."
    fields = [
        field
        for field in rows[0]._meta.concrete_fields
        if field.name not in ("id", "call") and not field.name.endswith("_sid")
    ]
    head = format_html_join("", "<th>{}</th>", ((field.verbose_name.capitalize(),) for field in fields))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((_cell(row, field),) for field in fields)),) for row in rows),
    )
    return format_html('<table class="voice-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


def _cell(row, field) -> str:
    value = getattr(row, field.name)
    if value is None or value == "":
        return "–"
    if field.choices:
        return getattr(row, f"get_{field.name}_display")()
    if isinstance(value, datetime):
        return f"{timezone.localtime(value):%H:%M:%S}"
    return str(value)
