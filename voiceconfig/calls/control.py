"""Hold and resume, recorded once Twilio has done them (voicetwilio.callcontrol asks Twilio first).

Each re-reads the call under its row lock, so two clicks racing each other record one change.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import Call, CallEvent
from .log import call_log_note


@dataclass(frozen=True)
class HoldOutcome:
    call: Call
    changed: bool


def actor(user) -> dict:
    """Who acted, for the call log."""
    return {"byUserId": user.pk, "by": user.get_username()} if user is not None else {}


def held_seconds(call: Call, *, now: datetime | None = None) -> int:
    """Whole seconds of the current hold (0 when not on hold)."""
    if not (call.on_hold and call.hold_started_at):
        return 0
    return max(0, round(((now or timezone.now()) - call.hold_started_at).total_seconds()))


@transaction.atomic
def call_record_hold(*, call_id: int, user=None, message: str = "Caller put on hold") -> HoldOutcome:
    """Twilio has put the caller on hold: mark the call held from now and log it."""
    call = Call.objects.select_for_update().get(pk=call_id)
    if call.on_hold or not call.is_active:
        return HoldOutcome(call=call, changed=False)
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(on_hold=True, hold_started_at=now, updated_at=now)
    call.on_hold, call.hold_started_at = True, now
    call_log_note(call=call, event=CallEvent.HOLD, message=message, data={"agent": call.agent_id, **actor(user)})
    return HoldOutcome(call=call, changed=True)


@transaction.atomic
def call_record_resume(*, call_id: int, user=None, why: str = "") -> HoldOutcome:
    """Twilio has taken the caller off hold: add this hold's length to hold_seconds and log it."""
    call = Call.objects.select_for_update().get(pk=call_id)
    if not call.on_hold:
        return HoldOutcome(call=call, changed=False)
    end_hold(call=call, now=timezone.now(), user=user, why=why)
    return HoldOutcome(call=call, changed=True)


def end_hold(*, call: Call, now: datetime, user=None, why: str = "") -> None:
    """Close the locked call's hold (UPDATE and log); `why` says what ended it when it was not Resume."""
    held = held_seconds(call, now=now)
    total = call.hold_seconds + held
    Call.objects.filter(pk=call.pk).update(on_hold=False, hold_started_at=None, hold_seconds=total, updated_at=now)
    call.on_hold, call.hold_started_at, call.hold_seconds = False, None, total
    call_log_note(
        call=call,
        event=CallEvent.RESUME,
        message=f"Caller taken off hold after {held} s{why or f' (on hold {total} s in all)'}",
        data={"agent": call.agent_id, "heldSeconds": held, "holdSeconds": total, **actor(user)},
    )
