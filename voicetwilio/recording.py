"""Start, pause, resume and stop a call's recording (issue 18; docs/recording.md).

Decide and commit (voiceconfig.calls.recordings), ask Twilio with no transaction open, record the outcome. Each
action is idempotent: repeating it sends nothing to Twilio and answers `changed: false`; a state that forbids it
(no recording to pause, a call that has ended, a line whose policy is off) is a StateConflict (409). A Twilio
failure (502) leaves the recording as it was.

The caller hears the consent message before any recording: it is part of what they hear on arrival whenever the
line's policy is not `off` (webhooks.flow), so by the time an agent answers they have been told.
"""

import logging

from django.http import HttpRequest

from voiceconfig import calls as call_services
from voiceconfig.calls import RecordingOutcome
from voiceconfig.models import Call, RecordingPolicy
from voiceconfig.services import StateConflict

from . import gateway
from .links import webhook_url

logger = logging.getLogger(__name__)

TWILIO_STATE = {"pause": "paused", "resume": "in-progress", "stop": "stopped"}


def call_start_recording(*, call: Call, user=None, request: HttpRequest | None = None) -> RecordingOutcome:
    """Record the call from now (both parties, two channels). Recording already: changed=False."""
    decision = call_services.recording_request_start(call_id=call.pk, user=user)
    if not decision.changed:
        return decision
    recording = decision.recording
    try:
        sid = gateway.start_call_recording(
            call_sid=call.call_sid,
            status_callback_url=webhook_url("recording-callback", request, callSid=call.call_sid, kind="call"),
        )
    except gateway.GatewayError as exc:
        call_services.recording_record_failed(recording_id=recording.pk, reason=exc.message)
        raise
    return RecordingOutcome(
        recording=call_services.recording_record_started(recording_id=recording.pk, recording_sid=sid, user=user),
        changed=True,
    )


def call_change_recording(*, call: Call, action: str, user=None) -> RecordingOutcome:
    """`pause` (PauseBehavior=skip: the paused span is left out of the audio), `resume` or `stop`."""
    decision = call_services.recording_for_action(call=call, action=action)
    if not decision.changed:
        return decision
    recording = decision.recording
    gateway.set_call_recording_state(
        call_sid=call.call_sid, recording_sid=recording.recording_sid, state=TWILIO_STATE[action]
    )
    return call_services.recording_record_action(recording_id=recording.pk, action=action, user=user)


def start_if_always(*, call: Call, request: HttpRequest | None = None) -> None:
    """The agent has answered a call on an `always` line: start recording now. For the participant callback; a
    failure is logged on the call (the agent may press Record), never an error to Twilio."""
    if call_services.recording_policy_for(call) != RecordingPolicy.ALWAYS:
        return
    try:
        call_start_recording(call=call, request=request)
    except (StateConflict, gateway.GatewayError) as exc:
        # The call ended meanwhile, or Twilio refused: logged (the agent may press Record), never an error to Twilio.
        # A database failure is not caught: the callback is retried (webhooks/outage.py).
        logger.warning("could not start recording %s: %s", call.call_sid, getattr(exc, "message", exc))
