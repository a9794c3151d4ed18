"""A department's limits (issue 16): a caller arriving when `max_callers` already wait, or when no member is
logged in (and the department says what happens then), does not wait; they meet its `no_agents_action`.

Reads are plain; the move out of the queue is decided under the call's row lock, as call_leave_queue's is, so no
agent can be reserved for a caller at the moment they are sent elsewhere.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import Call, CallEvent, CallStage, Department, DepartmentMember, NoAgentsAction, VoiceAgent
from .availability import heartbeat_cutoff
from .departments import effective_department
from .log import call_log_add
from .queue import is_waiting, waiting_calls
from .stage import StageEvent, call_move_stage
from .timing import seconds_between

FULL, NOBODY = "full", "nobody"

STAGE_EVENTS = {
    CallStage.VOICEMAIL: StageEvent.VOICEMAIL,
    CallStage.MESSAGE: StageEvent.MESSAGE,
    CallStage.FORWARDED: StageEvent.FORWARD,
}


def department_turns_away(*, call: Call, department: Department, now: datetime | None = None) -> str | None:
    """FULL when max_callers others already wait; NOBODY when no member's console is alive and the department
    does something other than wait then; else None. No statement for a department with neither rule."""
    now = now or timezone.now()
    if department.max_callers is not None:
        others = (
            waiting_calls().annotate(waits_in=effective_department()).filter(waits_in=department.pk).exclude(pk=call.pk)
        )
        if others[: department.max_callers].count() >= department.max_callers:
            return FULL
    if department.no_agents_action != NoAgentsAction.WAIT:
        online = VoiceAgent.objects.filter(last_heartbeat_at__gte=heartbeat_cutoff(now)).exclude(status="offline")
        members = DepartmentMember.objects.filter(department=department)
        if members.exists():
            online = online.filter(memberships__department=department)
        if not online.exists():
            return NOBODY
    return None


@transaction.atomic
def call_turn_away(*, call: Call, stage: str, why: str) -> bool:
    """Send a waiting caller (no agent ringing) to `stage` (voicemail, message, forwarded). False when the call
    is no longer waiting (an agent took it meanwhile, or it ended)."""
    locked = Call.objects.select_for_update().filter(pk=call.pk).first()
    if locked is None or not is_waiting(locked):
        return False
    now = timezone.now()
    if not call_move_stage(call=locked, event=STAGE_EVENTS[stage], wait_seconds=seconds_between(locked.queued_at, now)):
        return False
    call.stage, call.wait_seconds = locked.stage, locked.wait_seconds
    call_log_add(
        call=locked, call_sid=locked.call_sid, event=CallEvent.ROUTING, dedupe_key=f"turned-away:{stage}", message=why
    )
    return True
