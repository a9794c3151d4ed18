"""Cold transfer to a department (issue 16), the Twilio side: hold the caller with the queue music, keep the
conference alive without the agent, take the agent out; then the caller waits first in the department's queue
and routing rings its next member. A Twilio refusal undoes what it can and leaves the call with its agent (502).
"""

import logging

from django.http import HttpRequest

from voiceconfig import calls as call_services
from voiceconfig.models import Call

from . import gateway, routing
from .links import webhook_url

logger = logging.getLogger(__name__)


def transfer_to_department(*, call: Call, department, user=None, request: HttpRequest | None = None):
    """Returns (call, transfer summary). `call` is connected (the caller checked) and was read with its agent."""
    ticket = call_services.department_transfer_request(call=call, department=department, user=user)
    conference, agent_leg = call.conference_sid, call.agent_call_sid
    undo: list = []
    try:
        gateway.set_participant_ends_conference(
            conference_sid=conference, call_sid=agent_leg, end_conference_on_exit=False
        )
        undo.append(
            lambda: gateway.set_participant_ends_conference(
                conference_sid=conference, call_sid=agent_leg, end_conference_on_exit=True
            )
        )
        gateway.set_participant_hold(
            conference_sid=conference,
            call_sid=call.call_sid,
            hold=True,
            hold_url=webhook_url("queue-wait", request, callSid=call.call_sid),
        )
        undo.append(lambda: gateway.set_participant_hold(conference_sid=conference, call_sid=call.call_sid, hold=False))
        gateway.remove_participant(conference_sid=conference, call_sid=agent_leg)
    except Exception as exc:
        for step in reversed(undo):
            try:
                step()
            except gateway.GatewayError as undo_error:
                logger.warning(
                    "could not undo a step of a failed transfer of %s: %s", call.call_sid, undo_error.message
                )
        call_services.transfer_record_failed(ticket=ticket, reason=getattr(exc, "message", "") or str(exc))
        raise
    updated, row = call_services.department_transfer_record(ticket=ticket, department=department, user=user)
    routing.route_waiting_callers(line=updated.phone_line, request=request, call=updated)
    updated.refresh_from_db()
    return updated, call_services.transfer_summary(row)
