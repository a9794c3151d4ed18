"""Where the caller is in our flow: a forward-only state machine (decision 5), like the status.

One table says, for each event of our flow, which stages it may move a call from and the stage it moves it to.
Anything else (a replayed or late webhook, a second copy) changes nothing: the stage is moved by one conditional
UPDATE (`WHERE stage IN (...)`), so two requests racing each other cannot both move it either. Two moves go
back to `queued`, each the undoing of a step that failed or came to nothing: a transfer nobody answered
(`connected` -> `queued`) and a caller whom Twilio would not send to voicemail (`voicemail`/`message` -> `queued`).
"""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import TERMINAL_CALL_STATUSES, Call, CallStage, CallStatus, PhoneLine
from . import sql


class StageEvent:
    """What happened in our flow (names, not stages: the same stage is reached by several events)."""

    MENU = "menu"  # the IVR menu is played (again)
    CHOICE = "choice"  # the caller picked an IVR option (the stage stays: what follows moves it)
    ENQUEUE = "enqueue"  # the caller starts waiting for an agent
    ANSWER = "answer"  # an agent answered the caller
    VOICEMAIL = "voicemail"  # after hours, an IVR choice, or nobody answered in time
    MESSAGE = "message"  # a message, then hang up
    FORWARD = "forward"  # dialled out to a phone number
    FALLBACK = "fallback"  # Twilio's fallback URL takes a message
    HANG_UP = "hang-up"  # the caller hung up before reaching an agent
    REQUEUE = "requeue"  # a cold transfer nobody answered: the caller waits again
    BACK_TO_QUEUE = "back-to-queue"  # sending the caller to voicemail failed: they keep waiting

    ALL = (MENU, CHOICE, ENQUEUE, ANSWER, VOICEMAIL, MESSAGE, FORWARD, FALLBACK, HANG_UP, REQUEUE, BACK_TO_QUEUE)


_BEFORE_AN_AGENT = frozenset({CallStage.NEW, CallStage.IVR})
_WAITING = _BEFORE_AN_AGENT | {CallStage.QUEUED}

# event -> (the stages it may move a call from, the stage it moves it to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    StageEvent.MENU: (_BEFORE_AN_AGENT, CallStage.IVR),
    StageEvent.CHOICE: (frozenset({CallStage.IVR}), CallStage.IVR),
    StageEvent.ENQUEUE: (_BEFORE_AN_AGENT, CallStage.QUEUED),
    # ABANDONED too: an agent's answer that Twilio reports after the caller's hang-up is still a fact.
    StageEvent.ANSWER: (_WAITING | {CallStage.ABANDONED}, CallStage.CONNECTED),
    StageEvent.VOICEMAIL: (_WAITING, CallStage.VOICEMAIL),
    StageEvent.MESSAGE: (_WAITING, CallStage.MESSAGE),
    StageEvent.FORWARD: (_WAITING, CallStage.FORWARDED),  # from the queue: a department that forwards
    StageEvent.FALLBACK: (_WAITING, CallStage.VOICEMAIL),
    StageEvent.HANG_UP: (_WAITING, CallStage.ABANDONED),
    StageEvent.REQUEUE: (frozenset({CallStage.CONNECTED}), CallStage.QUEUED),
    StageEvent.BACK_TO_QUEUE: (frozenset({CallStage.VOICEMAIL, CallStage.MESSAGE}), CallStage.QUEUED),
}
# Events that still apply once Twilio says the call has ended (facts about the past, not moves of a live call).
AFTER_THE_END = frozenset({StageEvent.ANSWER, StageEvent.HANG_UP})


def next_stage(stage: str, event: str) -> str | None:
    """The stage `event` moves a call in `stage` to, or None when it must change nothing."""
    sources, target = TRANSITIONS[event]
    return target if stage in sources else None


def call_move_stage(*, call: Call, event: str, **fields) -> bool:
    """Move a live call on for `event` (and set any other columns given, only if it moves). One UPDATE.

    Returns whether it moved; when it did not, `call` is left as it was, so the flow can answer for the stage
    the call really is in.
    """
    sources, target = TRANSITIONS[event]
    if call.stage not in sources:
        return False
    calls = Call.objects.filter(pk=call.pk, stage__in=list(sources))
    if event not in AFTER_THE_END:
        calls = calls.exclude(status__in=TERMINAL_CALL_STATUSES)
    fields["stage"] = target
    if not calls.update(**fields, updated_at=timezone.now()):
        return False
    for name, value in fields.items():
        setattr(call, name, value)
    return True


def call_count_ivr_prompt(*, call: Call) -> int | None:
    """One more IVR prompt for a call before an agent (atomic); how many it has had, or None if it is past that."""
    sources, target = TRANSITIONS[StageEvent.MENU]
    moved = (
        Call.objects.filter(pk=call.pk, stage__in=list(sources))
        .exclude(status__in=TERMINAL_CALL_STATUSES)
        .update(ivr_attempts=F("ivr_attempts") + 1, stage=target, updated_at=timezone.now())
    )
    if not moved:
        return None
    call.refresh_from_db(fields=["ivr_attempts", "stage"])
    return call.ivr_attempts


# --- the call's birth ----------------------------------------------------------------------------------------


def conference_name_for(call_sid: str) -> str:
    """Decision 4: each call has its own conference, named after the call."""
    return f"call-{call_sid}"


def call_start(
    *, call_sid: str, from_number: str, to_number: str, line: PhoneLine | None, status: str, stage: str = CallStage.NEW
) -> tuple[Call, bool]:
    """The call Twilio announced on the voice webhook; the same CallSid again returns the stored call.

    `stage=CallStage.QUEUED` creates it already waiting for an agent (queued_at set): the flow knows before the
    insert when a caller goes straight to the queue, and saves the enqueue UPDATE. `stage=CallStage.REJECTED`
    creates it ended: we say the number is not in service and hang up, and a number we do not serve has no
    status callback configured that would ever tell us so (it would stay `ringing` for ever).
    """
    if stage == CallStage.REJECTED:
        status = CallStatus.COMPLETED
    status = status if status in CallStatus.values else CallStatus.RINGING
    now = timezone.now()
    # Insert first: a new call is the common case, so it costs one statement; Twilio asking twice costs two.
    try:
        call = _insert(
            call_sid=call_sid,
            from_number=from_number[:200],
            to_number=to_number[:200],
            phone_line=line,
            status=status,
            stage=stage,
            started_at=now,
            queued_at=now if stage == CallStage.QUEUED else None,
            ended_at=now if stage == CallStage.REJECTED else None,
            conference_name=conference_name_for(call_sid),
        )
        return call, True
    except IntegrityError:
        return sql.call_with_line(call_sid), False


def _insert(**fields) -> Call:
    """INSERT one call; a unique-constraint violation raises IntegrityError and leaves the connection usable.

    In autocommit (a webhook's request) the INSERT is its own transaction already: atomic() would only add the
    BEGIN and COMMIT round trips. Inside a transaction, a savepoint keeps the error from aborting it.
    """
    call = Call(**fields)
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            sql.insert_call(call)
            return call
    # A prebuilt INSERT (issue 14): Call.objects.create() built the same 30-column statement on every call.
    sql.insert_call(call)
    return call
