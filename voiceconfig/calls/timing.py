"""Durations of a call, computed from the stored facts so they come out the same in any callback order."""

from datetime import datetime

from ..models import Call


def seconds_between(start: datetime | None, end: datetime | None) -> int:
    if not start or not end or end < start:
        return 0
    return int((end - start).total_seconds())


def recompute_durations(call: Call) -> None:
    """Wait and talk times follow from queued_at, answered_at and ended_at (in memory; the caller saves)."""
    if call.queued_at:
        call.wait_seconds = seconds_between(call.queued_at, call.answered_at or call.ended_at)
    if call.answered_at and call.ended_at:
        call.talk_seconds = seconds_between(call.answered_at, call.ended_at)
