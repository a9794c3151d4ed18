"""Read-only pictures on admin pages: a config's week at a glance and a call's timeline."""

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .admin_views import format_duration
from .models import Call, CallLog, VoiceConfig, Weekday

# Keys of a CallLog's `data` worth showing on the timeline when the row has no message of its own.
TIMELINE_DATA_KEYS = ("Digits", "SpeechResult", "to", "agent", "reason", "CallStatus", "StatusCallbackEvent")


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


def _log_detail(log: CallLog) -> str:
    if log.message:
        return log.message
    data = log.data if isinstance(log.data, dict) else {}
    parts = [f"{key}={data[key]}" for key in TIMELINE_DATA_KEYS if data.get(key) not in (None, "")]
    return ", ".join(parts)


def call_timeline(call: Call) -> SafeString:
    """Every event of the call in order, with the time and the offset from the first event."""
    if call.pk is None:
        return format_html('<span class="voice-muted">{}</span>', "No events yet.")
    logs = list(call.logs.order_by("created_at", "id"))
    if not logs:
        return format_html('<span class="voice-muted">{}</span>', "No events recorded for this call.")
    start = logs[0].created_at
    items = format_html_join(
        "",
        '<li class="voice-tl-{}"><time class="voice-tl-time" datetime="{}">{}</time>'
        '<span class="voice-tl-event">{}</span>{}{}<span class="voice-tl-offset">{}</span></li>',
        (
            (
                log.event,
                log.created_at.isoformat(),
                f"{timezone.localtime(log.created_at):%H:%M:%S}",
                log.get_event_display(),
                format_html(' <span class="voice-status">{}</span> ', log.call_status) if log.call_status else "",
                _log_detail(log),
                "" if log is logs[0] else "+" + format_duration((log.created_at - start).total_seconds()),
            )
            for log in logs
        ),
    )
    summary = [f"{len(logs)} event{'s' if len(logs) != 1 else ''}"]
    if call.wait_seconds:
        summary.append(f"waited {format_duration(call.wait_seconds)}")
    if call.talk_seconds:
        summary.append(f"talked {format_duration(call.talk_seconds)}")
    if call.hold_seconds:
        summary.append(f"on hold {format_duration(call.hold_seconds)}")
    return format_html('<p class="voice-muted">{}</p><ol class="voice-timeline">{}</ol>', " · ".join(summary), items)
