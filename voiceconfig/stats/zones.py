"""Local days and hours of a time zone, as instants (correct across DST: a day may last 23 or 25 hours)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from ..models import Department, VoiceConfig

HOUR = timedelta(hours=1)


def config_time_zone() -> str:
    """The statistics' default zone: the first config's (the one `make run` and most installs have), else the
    server's."""
    zone = VoiceConfig.objects.order_by("id").values_list("time_zone", flat=True).first()
    return zone or settings.TIME_ZONE


def zone_of(*, tz: str | None, department: Department | None) -> str:
    if tz:
        return tz
    if department is not None:
        return department.time_zone
    return config_time_zone()


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant the local day starts (its first existing moment, where midnight is skipped by DST)."""
    local = datetime.combine(day, time(0), zone)
    # A skipped midnight (a DST jump at 00:00) normalises forward through UTC.
    return local.astimezone(UTC).astimezone(zone)


def today(zone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(zone).date()


def local_hours(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every local hour's first instant from `start` to `end` (a fall-back day has 25, a spring-forward day 23)."""
    hours, at = [], start.astimezone(UTC)
    while at < end:
        hours.append(at.astimezone(zone))
        at += HOUR
    return hours


def hour_of(local_naive: datetime, utc_hour: datetime, zone: ZoneInfo) -> datetime:
    """The instant of the local hour a group of calls fell in, from the group's local wall hour and UTC hour.

    SQL groups by (local hour, UTC hour): the local wall hour alone is ambiguous on a fall-back day (02:00 happens
    twice); the UTC hour tells which of the two it was (the one whose hour overlaps it).
    """
    utc_hour = utc_hour.astimezone(UTC)
    for fold in (0, 1):
        candidate = local_naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if candidate < utc_hour + HOUR and candidate + HOUR > utc_hour:
            return candidate.astimezone(zone)
    return local_naive.replace(tzinfo=zone).astimezone(zone)


def hour_key(at: datetime) -> str:
    """2026-11-01T09:00+01:00: the local hour with its offset, so a repeated hour has two keys."""
    return at.strftime("%Y-%m-%dT%H:00") + at.isoformat()[-6:]


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"
