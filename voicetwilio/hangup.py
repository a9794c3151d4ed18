"""Hang up a call from the agent console, for an agent whose browser leg is gone (issue 12).

The console's Hang up button ends the call through its softphone when it has one; when it has none (the call was
answered in another tab, before a reload, or the SDK lost Twilio) it asks the server, which ends the call at Twilio
and records it. Decide, call Twilio, record (docs/architecture.md):

1. read: a call already ended changes nothing, asks Twilio nothing and answers its state (`changed: false`);
2. Twilio: the caller's leg is ended first; if Twilio refuses, the API answers 502 and nothing is recorded, so
   the agent can try again. Then the other legs (the agent's, a transfer's) go with the conference, or the
   agent's leg alone before there is one; those are cleanup, a failure there is logged (usually the leg had gone);
3. record: voiceconfig.calls.call_record_hang_up ends the call as a `completed` status callback would, and the
   agent wraps up.
"""

import logging

from voiceconfig import calls as call_services
from voiceconfig.calls import HangupOutcome
from voiceconfig.models import Call

from . import gateway
from .routing import hang_up_quietly

logger = logging.getLogger(__name__)

__all__ = ["HangupOutcome", "call_hang_up"]


def call_hang_up(*, call: Call, user=None) -> HangupOutcome:
    """End the call at Twilio, then here. Repeating it (or a call that has ended) changes nothing."""
    call = Call.objects.get(pk=call.pk)
    if not call.is_active:
        return HangupOutcome(call=call, changed=False)
    gateway.end_call(call_sid=call.call_sid)
    _end_other_legs(call)
    return call_services.call_record_hang_up(call_id=call.pk, user=user)


def _end_other_legs(call: Call) -> None:
    """The caller has gone: hang up whoever is left with them (their leaving does not always end the conference)."""
    if call.conference_sid:
        try:
            gateway.end_conference(conference_sid=call.conference_sid)
            return
        except gateway.GatewayError as exc:
            # Usually it had already ended with the caller; fall back to the agent's own leg.
            logger.info("could not end conference %s of %s: %s", call.conference_sid, call.call_sid, exc.message)
    if call.agent_call_sid:
        hang_up_quietly(call_sid=call.agent_call_sid, why="the call was hung up from the console")
