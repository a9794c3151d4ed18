"""Hang up from the console: recorded once Twilio has ended the call (voicetwilio.hangup asks Twilio first).

The call ends exactly as if Twilio's status callback had said `completed`: the status machine (status.py) sets
the end time, the stage and the durations, and sends the agent to wrap-up (or frees an agent still ringing).
Twilio's own `completed` callback, arriving later, then finds the call ended and changes nothing.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..models import Call, CallEvent, CallStatus
from .control import actor, end_hold
from .log import call_log_note
from .status import call_apply_status


@dataclass(frozen=True)
class HangupOutcome:
    call: Call
    changed: bool


@transaction.atomic
def call_record_hang_up(*, call_id: int, user=None) -> HangupOutcome:
    """Twilio has ended the call at our request: end it here too, once (a second request changes nothing)."""
    call = Call.objects.select_for_update().get(pk=call_id)
    if not call.is_active:
        return HangupOutcome(call=call, changed=False)
    if call.on_hold:
        # The hold ends with the call: its time counts in hold_seconds like any other hold.
        end_hold(call=call, now=timezone.now(), user=user, why=" (the call was hung up)")
    who = actor(user)
    call_log_note(
        call=call,
        event=CallEvent.NOTE,
        message=f"Hung up from the console by {who.get('by', 'the platform')}.",
        data={"hangup": True, "agent": call.agent_id, **who},
    )
    result = call_apply_status(
        call_sid=call.call_sid,
        status=CallStatus.COMPLETED,
        data={"CallStatus": CallStatus.COMPLETED, "source": "console-hangup", **who},
    )
    call.refresh_from_db()
    return HangupOutcome(call=call, changed=result.changed)
