"""Supervisors on a live call: listen (muted), whisper (Twilio's coaching: heard by the agent only), barge.

A Supervision row per supervisor and call. The edge (voicetwilio.supervision) decides here, adds or updates the
supervisor's conference participant at Twilio, then records here; the conference's participant-join and
participant-leave events (call_apply_conference_event) confirm the leg is on the call and end it when it leaves.
Every step is on the call's timeline.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..models import Call, CallEvent, Supervision, SupervisionMode, SupervisionState
from ..services import StateConflict
from .log import call_log_note

LIVE_STATES = [SupervisionState.REQUESTED, SupervisionState.ON]
SAYS = {
    SupervisionMode.LISTEN: "is listening",
    SupervisionMode.WHISPER: "is whispering to the agent",
    SupervisionMode.BARGE: "has barged into the call",
}


@dataclass(frozen=True)
class SupervisionTicket:
    supervision: Supervision
    created: bool  # a new leg must be added at Twilio; else the existing one changes mode


def live_supervisions(*, call_id: int) -> list[Supervision]:
    live = Supervision.objects.filter(call_id=call_id, state__in=LIVE_STATES).select_related("supervisor")
    return list(live.order_by("started_at", "id"))


def _who(user) -> dict:
    return {"byUserId": user.pk, "by": user.get_username()}


@transaction.atomic
def supervision_request(*, call_id: int, user, identity: str, mode: str) -> SupervisionTicket:
    """Decide: this supervisor's live supervision of the call, or a new `requested` one. 409 unless the call is
    live and its agent is talking in the conference (there is nothing to listen to before)."""
    call = Call.objects.select_for_update().get(pk=call_id)
    if not call.is_active:
        raise StateConflict(f"Call {call.call_sid} has ended ({call.status}); it cannot be supervised.")
    if not (call.conference_sid and call.agent_call_sid):
        raise StateConflict(f"Call {call.call_sid} is not connected to an agent yet; supervise it once it is.")
    current = Supervision.objects.filter(call=call, supervisor=user, state__in=LIVE_STATES).first()
    if current is not None:
        return SupervisionTicket(supervision=current, created=False)
    supervision = Supervision.objects.create(call=call, supervisor=user, identity=identity, mode=mode)
    return SupervisionTicket(supervision=supervision, created=True)


@transaction.atomic
def supervision_record_joined(*, supervision_id: int, leg_sid: str) -> Supervision:
    """Twilio added the supervisor's participant (their softphone rings): the row knows its leg."""
    supervision = (
        Supervision.objects.select_for_update(of=("self",)).select_related("call", "supervisor").get(pk=supervision_id)
    )
    supervision.leg_sid = supervision.leg_sid or leg_sid
    supervision.save(update_fields=["leg_sid", "updated_at"])
    call_log_note(
        call=supervision.call,
        event=CallEvent.SUPERVISION,
        message=f"Supervisor {supervision.identity} joining to {supervision.mode}",
        data={
            "supervision": supervision.pk,
            "mode": supervision.mode,
            "legSid": leg_sid,
            **_who(supervision.supervisor),
        },
    )
    return supervision


@transaction.atomic
def supervision_record_failed(*, supervision_id: int, reason: str) -> None:
    supervision = Supervision.objects.select_for_update(of=("self",)).select_related("call").get(pk=supervision_id)
    if supervision.state != SupervisionState.REQUESTED:
        return
    now = timezone.now()
    supervision.state, supervision.failure, supervision.ended_at = SupervisionState.FAILED, reason[:500], now
    supervision.save(update_fields=["state", "failure", "ended_at", "updated_at"])
    call_log_note(
        call=supervision.call,
        event=CallEvent.SUPERVISION,
        message=f"Supervisor {supervision.identity} could not join: {reason}"[:2000],
        data={"supervision": supervision.pk},
    )


@transaction.atomic
def supervision_record_mode(*, supervision_id: int, mode: str, user) -> bool:
    """Twilio has changed the supervisor's participant: the new mode is stored and logged. False: it was already."""
    supervision = Supervision.objects.select_for_update(of=("self",)).select_related("call").get(pk=supervision_id)
    if supervision.mode == mode or supervision.state not in LIVE_STATES:
        return False
    before = supervision.mode
    supervision.mode = mode
    supervision.save(update_fields=["mode", "updated_at"])
    call_log_note(
        call=supervision.call,
        event=CallEvent.SUPERVISION,
        message=f"Supervisor {supervision.identity} {SAYS[mode]} (was {before})",
        data={"supervision": supervision.pk, "mode": mode, "previousMode": before, **_who(user)},
    )
    return True


def supervision_note_leg(*, call: Call, leg_sid: str, joined: bool) -> None:
    """A conference participant joined or left (inside call_apply_conference_event's transaction): if it is a
    supervisor's leg, they are on the call now, or their supervision has ended."""
    supervision = (
        Supervision.objects.select_for_update().filter(call=call, leg_sid=leg_sid, state__in=LIVE_STATES).first()
    )
    if supervision is None:
        return
    if joined:
        if supervision.state == SupervisionState.REQUESTED:
            supervision.state = SupervisionState.ON
            supervision.save(update_fields=["state", "updated_at"])
            call_log_note(
                call=call,
                event=CallEvent.SUPERVISION,
                message=f"Supervisor {supervision.identity} {SAYS[supervision.mode]}",
                data={"supervision": supervision.pk, "mode": supervision.mode},
            )
        return
    supervision_end(supervision=supervision, why="left the call")


def supervision_end(*, supervision: Supervision, why: str) -> None:
    """End a live supervision (the row is locked by the caller, or in its transaction)."""
    supervision.state, supervision.ended_at = SupervisionState.ENDED, timezone.now()
    supervision.save(update_fields=["state", "ended_at", "updated_at"])
    call_log_note(
        call=supervision.call,
        event=CallEvent.SUPERVISION,
        message=f"Supervisor {supervision.identity} {why}",
        data={"supervision": supervision.pk, "mode": supervision.mode},
    )


@transaction.atomic
def supervision_record_left(*, supervision_id: int, user) -> bool:
    """Twilio has taken the supervisor's leg out (mode `off`). False: it had ended already."""
    supervision = Supervision.objects.select_for_update(of=("self",)).select_related("call").get(pk=supervision_id)
    if supervision.state not in LIVE_STATES:
        return False
    supervision_end(supervision=supervision, why=f"stopped supervising ({user.get_username()})")
    return True
