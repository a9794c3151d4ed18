"""The call log: one CallLog row per distinct event on a call's timeline (decision 5).

A Twilio callback delivered twice carries the same dedupe_key, and the (call_sid, dedupe_key) unique constraint
makes the second insert a no-op, even when both copies arrive at the same moment.
"""

from ..models import Call, CallEvent, CallLog


def call_log_add(
    *,
    call_sid: str,
    event: str,
    call: Call | None = None,
    dedupe_key: str | None = None,
    call_status: str = "",
    message: str = "",
    data: dict | None = None,
    sequence_number: int | None = None,
) -> None:
    """Append one event. With a dedupe_key, a second copy of the same event inserts nothing (ON CONFLICT)."""
    CallLog.objects.bulk_create(
        [
            CallLog(
                call=call,
                call_sid=call_sid[:34],
                event=event,
                dedupe_key=dedupe_key[:200] if dedupe_key else None,
                call_status=call_status[:20],
                message=message[:2000],
                data=data or {},
                sequence_number=sequence_number,
            )
        ],
        ignore_conflicts=dedupe_key is not None,
    )


def call_log_note(
    *, call: Call, event: str, message: str, data: dict | None = None, dedupe_key: str | None = None
) -> None:
    """One event on a known call, stamped with the call's current status."""
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=event,
        call_status=call.status,
        message=message,
        data=data,
        dedupe_key=dedupe_key,
    )


def call_log_unknown(*, call_sid: str, message: str, **fields) -> None:
    """A callback about a CallSid we have no call for: only logged (deduplicated like the event it stands for)."""
    call_log_add(call_sid=call_sid, event=CallEvent.UNKNOWN_CALL, message=message, **fields)
