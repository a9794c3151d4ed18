"""Backfill: staff record a finished call that Twilio handled while our webhooks could not record it.

Twilio retries a refused callback for about 15 seconds (docs/webhooks.md); a longer outage leaves calls that Twilio
knows (its call logs) and we do not. Staff may add such a call, finished, from what Twilio's console shows. It is
never a live call (no agent is blocked by it, no caller waits in it) and nothing rewrites it afterwards.
"""

from datetime import datetime

from django.db import transaction

from ..models import TERMINAL_CALL_STATUSES, Call, CallDirection, CallEvent, CallStage, PhoneLine, VoiceAgent
from .log import call_log_add
from .stats_facts import settle_stats_facts
from .timing import seconds_between


@transaction.atomic
def call_backfill(
    *,
    call_sid: str,
    from_number: str,
    to_number: str,
    status: str,
    started_at: datetime,
    ended_at: datetime,
    answered_at: datetime | None = None,
    phone_line: PhoneLine | None = None,
    agent: VoiceAgent | None = None,
    direction: str = CallDirection.INBOUND,
    recorded_by: str,
) -> Call:
    assert status in TERMINAL_CALL_STATUSES, "a backfilled call is a finished call"
    call = Call(
        call_sid=call_sid,
        from_number=from_number,
        to_number=to_number,
        direction=direction,
        status=status,
        stage=CallStage.CONNECTED if answered_at else CallStage.ABANDONED,
        phone_line=phone_line,
        agent=agent,
        started_at=started_at,
        queued_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        wait_seconds=seconds_between(started_at, answered_at or ended_at),
        talk_seconds=seconds_between(answered_at, ended_at),
    )
    settle_stats_facts(call)  # no wrap-up: the agent's time after a call recorded after the fact is unknown
    call.save(force_insert=True)
    call_log_add(
        call=call,
        call_sid=call_sid,
        event=CallEvent.NOTE,
        call_status=status,
        message=f"Recorded by {recorded_by} after the fact (backfill from Twilio's call log).",
    )
    return call
