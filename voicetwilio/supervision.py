"""Supervisors on a live call: `:monitor` with listen, whisper or barge, and changing mode while on (issue 18).

The supervisor's own softphone (their voice agent's client identity) is rung into the call's conference as a
participant: muted to listen; `Coaching` with `CallSidToCoach` = the agent's leg to whisper (Twilio lets only the
agent hear them); unmuted to barge. Mode `off` takes them out. Decide, ask Twilio, record, like every call action.
"""

from dataclasses import dataclass

from voiceconfig import calls as call_services
from voiceconfig.api.permissions import agent_of
from voiceconfig.models import Call, Supervision
from voiceconfig.services import StateConflict

from . import gateway, routing

SUPERVISE_PERMISSION = "voiceconfig.supervise_call"
SUPERVISOR_RING_SECONDS = 30


class NoSoftphone(Exception):
    """The supervisor has no voice agent, so no softphone to ring (the API answers 400)."""


@dataclass
class MonitorOutcome:
    supervision: Supervision
    changed: bool


def can_supervise(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(SUPERVISE_PERMISSION))


def call_monitor(*, call: Call, user, mode: str) -> MonitorOutcome:
    """Join the call in `mode`, or switch mode when on it already; `off` leaves. Same mode again: changed=False."""
    call = Call.objects.select_related("phone_line").get(pk=call.pk)
    if mode == "off":
        return _leave(call=call, user=user)
    agent = agent_of(user)
    if agent is None:
        raise NoSoftphone("You have no softphone: supervising needs a voice agent (your client identity) to ring.")
    ticket = call_services.supervision_request(call_id=call.pk, user=user, identity=agent.identity, mode=mode)
    supervision = ticket.supervision
    if not ticket.created:
        if supervision.mode == mode:
            return MonitorOutcome(supervision=supervision, changed=False)
        if supervision.leg_sid:
            gateway.set_supervisor_mode(
                conference_sid=call.conference_sid,
                call_sid=supervision.leg_sid,
                mode=mode,
                agent_leg=call.agent_call_sid,
            )
        changed = call_services.supervision_record_mode(supervision_id=supervision.pk, mode=mode, user=user)
        supervision.refresh_from_db()
        return MonitorOutcome(supervision=supervision, changed=changed)
    try:
        leg = gateway.add_supervisor(
            conference_sid=call.conference_sid,
            to=f"client:{agent.identity}",
            from_=routing.caller_id_for(call),
            mode=mode,
            agent_leg=call.agent_call_sid,
            timeout_seconds=SUPERVISOR_RING_SECONDS,
        )
    except gateway.GatewayError as exc:
        call_services.supervision_record_failed(supervision_id=supervision.pk, reason=exc.message)
        raise
    return MonitorOutcome(
        supervision=call_services.supervision_record_joined(supervision_id=supervision.pk, leg_sid=leg), changed=True
    )


def _leave(*, call: Call, user) -> MonitorOutcome:
    current = next(
        (row for row in call_services.live_supervisions(call_id=call.pk) if row.supervisor_id == user.pk), None
    )
    if current is None:
        latest = Supervision.objects.filter(call=call, supervisor=user).order_by("-started_at", "-id").first()
        if latest is None:
            raise StateConflict(f"You are not supervising call {call.call_sid}.")
        return MonitorOutcome(supervision=latest, changed=False)
    if current.leg_sid:
        try:
            gateway.remove_participant(conference_sid=call.conference_sid, call_sid=current.leg_sid)
        except gateway.GatewayError as exc:
            if exc.twilio_status != 404:  # their leg has gone already: only our row is left to close
                raise
    changed = call_services.supervision_record_left(supervision_id=current.pk, user=user)
    current.refresh_from_db()
    return MonitorOutcome(supervision=current, changed=changed)
