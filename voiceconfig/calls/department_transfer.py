"""A cold transfer to a department (issue 16): the agent leaves, the caller waits at the head of the
department's queue, and routing rings that department's next member into the same conference.

Decide and commit (`department_transfer_request`: a `requested` Transfer row), the edge asks Twilio to hold the
caller with the queue music and take the agent out, then `department_transfer_record` moves the caller back to
the queue under the call's row lock; a Twilio refusal is `transfer_record_failed`, as for any transfer.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from ..models import Call, CallEvent, Department, Transfer, TransferMode, TransferState, TransferTarget
from ..services import StateConflict
from .departments import effective_department
from .log import call_log_note
from .queue import waiting_calls
from .stage import StageEvent, next_stage
from .stats_facts import call_mark_transferred
from .transfers import TransferTicket, transfer_summary
from .wrapup import agent_start_wrap_up


def department_named(to: str) -> Department | None:
    """A department by id or by name (case-insensitive)."""
    text = (to or "").strip()
    if text.isdigit() and len(text) <= 18:
        found = Department.objects.filter(pk=int(text)).first()
        if found:
            return found
    return Department.objects.filter(name__iexact=text).first()


@transaction.atomic
def department_transfer_request(*, call: Call, department: Department, user=None) -> TransferTicket:
    """Decide the transfer of `call` (as the caller read it); 409 when it changed meanwhile."""
    locked = Call.objects.select_for_update().get(pk=call.pk)
    if locked.agent_id != call.agent_id or locked.agent_call_sid != call.agent_call_sid or not locked.is_active:
        raise StateConflict(f"Call {call.call_sid} changed while it was being transferred; try again.")
    row = Transfer.objects.create(
        call=locked,
        step=Transfer.objects.filter(call=locked).count() + 1,
        from_agent_id=call.agent_id,
        target_type=TransferTarget.DEPARTMENT,
        target=department.name[:130],
        mode=TransferMode.COLD,
        requested_by=user if getattr(user, "pk", None) else None,
        conference_sid=locked.conference_sid,
        from_leg_sid=call.agent_call_sid,
    )
    return TransferTicket(transfer=row, call_updated_at=locked.updated_at)


@transaction.atomic
def department_transfer_record(*, ticket: TransferTicket, department: Department, user=None) -> tuple[Call, Transfer]:
    """Twilio has held the caller and taken the agent out: the caller waits first in the department's queue."""
    row = ticket.transfer
    call = Call.objects.select_for_update(of=("self",)).select_related("phone_line__config").get(pk=row.call_id)
    now = timezone.now()
    # The head of the queue: just before the longest-waiting caller of the department (or where they were).
    oldest = (
        waiting_calls()
        .annotate(waits_in=effective_department())
        .filter(waits_in=department.pk)
        .aggregate(oldest=Min("queued_at"))["oldest"]
    )
    queued_at = call.queued_at or now
    if oldest is not None and oldest <= queued_at:
        queued_at = oldest - timedelta(microseconds=1)
    updates = {
        "agent": None,
        "agent_call_sid": "",
        "department": department,
        "requeued_at": now,
        "queued_at": queued_at,
    }
    stage = next_stage(call.stage, StageEvent.REQUEUE)
    if stage:
        updates["stage"] = stage
    Call.objects.filter(pk=call.pk).update(**updates, updated_at=now)
    call.refresh_from_db()
    if Transfer.objects.filter(pk=row.pk, state=TransferState.REQUESTED).update(
        state=TransferState.COMPLETED, ended_at=now, updated_at=now
    ):
        call_mark_transferred(call_id=call.pk)
    row.refresh_from_db()
    from_agent = row.from_agent
    call_log_note(
        call=call,
        event=CallEvent.TRANSFER,
        message=f"Cold transfer #{row.step}: agent {from_agent.identity} passed the call to department "
        f"{department.name}; the caller waits first in its queue",
        data=transfer_summary(row),
    )
    agent_start_wrap_up(agent_id=from_agent.pk, call=call, now=now)
    return call, row
