"""What a waiting caller is told (issue 16): their place in the department's queue and an estimated wait.

Estimated wait = ceil(position x average handle time / staffed members), where
- average handle time is the mean talk time of the department's calls answered in the last hour (at least
  three of them), else DEFAULT_HANDLE_SECONDS;
- staffed members are the members whose console is alive and who are not offline (busy ones count: they will
  be free again), at least one.
It is rounded up to whole minutes when said. A caller hears it at most once a minute: `call_claim_announcement`
is one conditional UPDATE, so two overlapping hold-music fetches cannot both announce.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Q
from django.utils import timezone

from ..models import AgentStatus, Call, Department, VoiceAgent
from .availability import heartbeat_cutoff
from .departments import effective_department
from .queue import waiting_calls

DEFAULT_HANDLE_SECONDS = 180
RECENT = timedelta(hours=1)
MIN_RECENT_CALLS = 3
ANNOUNCE_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1: next to be answered
    estimated_wait_seconds: int


def estimated_wait_seconds(*, position: int, average_handle_seconds: float, staffed: int) -> int:
    return math.ceil(position * average_handle_seconds / max(staffed, 1))


def queue_place(*, call: Call, department: Department, now: datetime | None = None) -> QueuePlace:
    """The caller's place in the department's queue and the estimated wait (three reads)."""
    now = now or timezone.now()
    ahead = (
        waiting_calls()
        .annotate(waits_in=effective_department())
        .filter(waits_in=department.pk)
        .filter(Q(queued_at__lt=call.queued_at) | Q(queued_at=call.queued_at, pk__lt=call.pk))
        .count()
    )
    recent = (
        Call.objects.annotate(waits_in=effective_department())
        .filter(waits_in=department.pk, answered_at__gte=now - RECENT, talk_seconds__gt=0)
        .aggregate(n=Count("pk"), average=Avg("talk_seconds"))
    )
    handle = recent["average"] if recent["n"] >= MIN_RECENT_CALLS else DEFAULT_HANDLE_SECONDS
    staffed = (
        VoiceAgent.objects.filter(memberships__department=department, last_heartbeat_at__gte=heartbeat_cutoff(now))
        .exclude(status=AgentStatus.OFFLINE)
        .count()
    )
    position = ahead + 1
    return QueuePlace(
        position=position,
        estimated_wait_seconds=estimated_wait_seconds(
            position=position, average_handle_seconds=handle, staffed=staffed
        ),
    )


def call_claim_announcement(*, call: Call, now: datetime | None = None) -> bool:
    """True (and noted) when the caller has not been told their place in the last minute."""
    now = now or timezone.now()
    return bool(
        Call.objects.filter(pk=call.pk)
        .filter(Q(announced_at__isnull=True) | Q(announced_at__lte=now - ANNOUNCE_EVERY))
        .update(announced_at=now)
    )


def announcement_text(place: QueuePlace) -> str:
    minutes = max(1, math.ceil(place.estimated_wait_seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"You are number {place.position} in line. Your estimated wait is about {minutes} {unit}."
