"""Business hours: is a line open at a given instant, in its config's IANA time zone?

Rules (voiceconfig.models.BusinessHours): each range belongs to the weekday it opens on. A range whose closing
time is not after its opening time runs past midnight into the next day; 00:00 as closing time means midnight.
A holiday closes the whole date, including the overnight part of a range that opened on it. A config with no
ranges is open around the clock (holidays still close it). The instant is converted to local time with zoneinfo,
so DST changes need no special case: 09:00 local is 09:00 local in winter and in summer.
"""

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from voiceconfig.models import BusinessHours, Holiday, VoiceConfig


@dataclass(frozen=True)
class Range:
    weekday: int  # Monday = 0
    opens_at: time
    closes_at: time

    @property
    def overnight(self) -> bool:
        return self.closes_at <= self.opens_at


def local_time(at: datetime, zone: str) -> datetime:
    try:
        return at.astimezone(zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return at.astimezone(zoneinfo.ZoneInfo("UTC"))


def is_open_at(*, local: datetime, ranges: Iterable[Range], holidays: Iterable[date]) -> bool:
    """Pure rule: open at this local wall-clock time, given the week's ranges and the holiday dates."""
    ranges = list(ranges)
    closed_dates = set(holidays)
    today = local.date()
    if today in closed_dates:
        return False
    if not ranges:
        return True
    now = local.time().replace(tzinfo=None)
    weekday = local.weekday()
    yesterday = today - timedelta(days=1)
    for hours in ranges:
        if hours.weekday == weekday:
            if hours.overnight:
                if now >= hours.opens_at:
                    return True
            elif hours.opens_at <= now < hours.closes_at:
                return True
        # The small hours of an overnight range that opened yesterday (unless yesterday was a holiday).
        spill_over = hours.overnight and hours.weekday == (weekday - 1) % 7 and yesterday not in closed_dates
        if spill_over and now < hours.closes_at:
            return True
    return False


def is_open(*, config: VoiceConfig, at: datetime) -> bool:
    """Is the line of this config open at the instant `at`? (Two small queries: ranges, nearby holidays.)"""
    local = local_time(at, config.time_zone)
    ranges = [
        Range(weekday=row.weekday, opens_at=row.opens_at, closes_at=row.closes_at)
        for row in BusinessHours.objects.filter(config=config)
    ]
    today = local.date()
    holidays = Holiday.objects.filter(config=config, date__in=[today, today - timedelta(days=1)]).values_list(
        "date", flat=True
    )
    return is_open_at(local=local, ranges=ranges, holidays=holidays)
