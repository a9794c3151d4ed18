"""Hold, resume and transfer a live call from the agent console (decisions 4 and 9).

Every action is decide and commit, call Twilio, record the outcome: this module validates and reads, the
services of voiceconfig.calls decide and record (each in its own short transaction), and Twilio is asked in
between with no transaction open and no row locked. A Twilio failure (502) leaves the database as it was.

Repeating an action is harmless: holding a call already on hold (or resuming one that is not) sends
nothing to Twilio, writes nothing and answers `changed: false`.

Transfers (decision 4) add the new party to the call's conference and, when cold, remove the agent:
- to another agent (`client`): reserved as routing reserves one, then rung into the conference;
- to a phone number: dialled in from the line's number; the call then has no agent of ours (cold) or keeps
  the transferring agent (warm).
The departing agent's leg is first told not to end the conference, so the caller stays with the new party.
A cold transfer's agent goes to wrap-up at once; a warm one stays in the conference (and may still hold,
resume and transfer the call) until they hang up. Each transfer is a Transfer row (voiceconfig.calls.transfers).
"""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from voiceconfig import calls as call_services
from voiceconfig.calls import HoldOutcome
from voiceconfig.models import AgentStatus, Call, CallEvent, TransferMode, TransferTarget, VoiceAgent, VoiceConfig
from voiceconfig.services import StateConflict
from voiceconfig.validators import normalize_e164

from . import department_transfer, gateway, routing
from .links import webhook_url

logger = logging.getLogger(__name__)

TRANSFER_LABEL = "transfer"
__all__ = ["HoldOutcome", "TransferOutcome", "InvalidDestination", "call_hold", "call_resume", "call_transfer"]


class InvalidDestination(Exception):
    """The transfer target is not a valid E.164 number or not one of our agents (the API answers 400)."""


def _hold_music_url(call: Call) -> str:
    config = call.phone_line.config if call.phone_line_id else None
    if config is None:
        return VoiceConfig._meta.get_field("hold_music_url").get_default()
    return config.hold_music_url


def require_live(call: Call, action: str) -> None:
    if not call.is_active:
        raise StateConflict(f"Call {call.call_sid} has ended ({call.status}); it cannot be {action}.")


def require_connected(call: Call, action: str) -> None:
    """409 unless the call is live with its agent answered and talking in the conference."""
    require_live(call, action)
    agent = call.agent if call.agent_id else None
    if agent is None or agent.status != AgentStatus.IN_CALL or not (call.conference_sid and call.agent_call_sid):
        state = f"agent {agent.identity} is {agent.get_status_display().lower()}" if agent else "no agent"
        raise StateConflict(
            f"Call {call.call_sid} is not connected to an agent ({state}); it can be {action} once an agent "
            "has answered it."
        )


def call_hold(*, call: Call, user=None) -> HoldOutcome:
    """Put the caller on hold with the line's hold music; the agent stays in the conference."""
    call = Call.objects.select_related("phone_line__config", "agent").get(pk=call.pk)
    require_connected(call, "put on hold")
    if call.on_hold:
        return HoldOutcome(call=call, changed=False)
    gateway.set_participant_hold(
        conference_sid=call.conference_sid, call_sid=call.call_sid, hold=True, hold_url=_hold_music_url(call)
    )
    return call_services.call_record_hold(call_id=call.pk, user=user)


def call_resume(*, call: Call, user=None) -> HoldOutcome:
    """Bring the caller back from hold; the time on hold is added to the call's hold_seconds."""
    call = Call.objects.get(pk=call.pk)
    require_live(call, "resumed")
    if not call.on_hold:
        return HoldOutcome(call=call, changed=False)
    if not call.conference_sid:
        raise StateConflict(f"Call {call.call_sid} is not in a conference; it cannot be resumed.")
    gateway.set_participant_hold(conference_sid=call.conference_sid, call_sid=call.call_sid, hold=False)
    return call_services.call_record_resume(call_id=call.pk, user=user)


# --- transfer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    kind: str  # TransferTarget: "phonenumber" or "client"
    to: str  # what Twilio dials: +E164 or client:<identity>
    agent: VoiceAgent | None = None


@dataclass
class TransferOutcome:
    call: Call
    summary: dict = field(default_factory=dict)


def resolve_destination(*, kind: str, to: str, call: Call) -> Destination:
    """Validate the target: an E.164 number, or an existing agent (by id, identity or client:identity)."""
    text = (to or "").strip()
    if kind == TransferTarget.PHONE_NUMBER:
        try:
            return Destination(kind=kind, to=normalize_e164(text))
        except ValidationError as exc:
            raise InvalidDestination(f"{text!r} is not a phone number in E.164 form: {exc.messages[0]}") from exc
    name = text.removeprefix("client:")
    agents = VoiceAgent.objects.all()
    agent = agents.filter(pk=int(name)).first() if name.isdigit() and len(name) <= 18 else None
    agent = agent or agents.filter(identity=name).first()
    if agent is None:
        raise InvalidDestination(f"No agent with the id or client identity {text!r}.")
    if agent.pk == call.agent_id:
        raise InvalidDestination(f"Agent {agent.identity} is already on this call.")
    return Destination(kind=kind, to=f"client:{agent.identity}", agent=agent)


def call_transfer(
    *, call: Call, kind: str, to: str, mode: str = TransferMode.COLD, user=None, request: HttpRequest | None = None
) -> TransferOutcome:
    """Pass a connected call to a phone number or another agent; see the module docstring."""
    call = Call.objects.select_related("phone_line__config", "agent").get(pk=call.pk)
    require_connected(call, "transferred")
    if kind == TransferTarget.DEPARTMENT:  # issue 16: always cold; the caller waits first in its queue
        department = call_services.department_named(to)
        if department is None:
            raise InvalidDestination(f"No department with the id or name {to!r}.")
        updated, summary = department_transfer.transfer_to_department(
            call=call, department=department, user=user, request=request
        )
        return TransferOutcome(call=updated, summary=summary)
    destination = resolve_destination(kind=kind, to=to, call=call)
    ticket = call_services.transfer_request(
        call=call, target_type=kind, target=destination.to, to_agent=destination.agent, mode=mode, user=user
    )
    try:
        new_leg = _move_legs_at_twilio(
            call=call,
            destination=destination,
            from_leg=call.agent_call_sid,
            cold=mode == TransferMode.COLD,
            transfer_id=ticket.transfer.pk,
            request=request,
        )
    except Exception as exc:
        # Twilio refused (or anything else went wrong): nobody must stay reserved for a transfer that failed.
        call_services.transfer_record_failed(ticket=ticket, reason=getattr(exc, "message", "") or str(exc))
        raise
    updated, row = call_services.transfer_record_started(ticket=ticket, leg_sid=new_leg, user=user)
    return TransferOutcome(call=updated, summary=call_services.transfer_summary(row))


def _move_legs_at_twilio(
    *, call: Call, destination: Destination, from_leg: str, cold: bool, transfer_id: int, request: HttpRequest | None
) -> str:
    """Add the new party, keep the conference alive without the agent, and (cold) take the agent out.

    If a later step fails, the earlier ones are undone as far as Twilio lets us, so a 502 means the call
    is as it was: the caller still talking to the same agent.
    """
    config = call.phone_line.config if call.phone_line_id else None
    callback_query: dict = {"callSid": call.call_sid, "transfer": transfer_id}
    if destination.agent:
        callback_query["agent"] = destination.agent.pk
    participant = gateway.add_participant(
        conference_name=call.conference_sid,
        to=destination.to,
        from_=routing.caller_id_for(call),
        status_callback_url=webhook_url("participant-callback", request, **callback_query),
        timeout_seconds=config.ring_timeout_seconds if config else 20,
        label=routing.AGENT_LABEL if destination.agent else TRANSFER_LABEL,
        # The new party takes the call over: when they leave, the conversation is over.
        end_conference_on_exit=True,
    )
    undo: list = [lambda: gateway.remove_participant(conference_sid=call.conference_sid, call_sid=participant.call_sid)]
    try:
        gateway.set_participant_ends_conference(
            conference_sid=call.conference_sid, call_sid=from_leg, end_conference_on_exit=False
        )
        undo.append(
            lambda: gateway.set_participant_ends_conference(
                conference_sid=call.conference_sid, call_sid=from_leg, end_conference_on_exit=True
            )
        )
        if cold:
            if call.on_hold:
                # The agent is leaving: the caller must hear the new party, not hold music.
                gateway.set_participant_hold(conference_sid=call.conference_sid, call_sid=call.call_sid, hold=False)
                undo.append(
                    lambda: gateway.set_participant_hold(
                        conference_sid=call.conference_sid,
                        call_sid=call.call_sid,
                        hold=True,
                        hold_url=_hold_music_url(call),
                    )
                )
            gateway.remove_participant(conference_sid=call.conference_sid, call_sid=from_leg)
    except gateway.GatewayError:
        for step in reversed(undo):
            try:
                step()
            except gateway.GatewayError as exc:
                logger.warning("could not undo a step of a failed transfer of %s: %s", call.call_sid, exc.message)
        raise
    return participant.call_sid


def transfer_leg_unanswered(*, call_sid: str, leg_sid: str, request: HttpRequest | None = None) -> str:
    """A transfer's new party did not answer (no-answer, busy, failed, canceled): decide what the call does next.

    For the participant callback, after it has applied the leg event (which frees a receiving agent who let it
    ring out). A warm transfer's call goes back to the agent who stayed with the caller; after a cold one the
    caller is alone in the conference, so they rejoin the queue (with their original place) and routing rings
    the next free agent into the same conference. Any other leg changes nothing. Returns what was done:
    "", "back-to-agent" or "requeued". Twice the same news decides once.

    A requeued caller is put on hold with the queue-wait URL as hold music: the conference has started, so its
    waitUrl will not play again, and each hold-music fetch retries routing and checks the maximum wait, exactly
    as for a caller who has just arrived. The agent's answer takes them off hold (`requeued_caller_answered`).
    """
    outcome = call_services.transfer_decide_unanswered(call_sid=call_sid, leg_sid=leg_sid)
    call = outcome.call
    if outcome.decision == "back-to-agent" and outcome.agent_leg:
        try:  # The agent is the call's agent again: their leaving ends the conference again, as routing set it.
            gateway.set_participant_ends_conference(
                conference_sid=call.conference_sid, call_sid=outcome.agent_leg, end_conference_on_exit=True
            )
        except gateway.GatewayError as exc:
            logger.warning("could not restore end-conference-on-exit on %s: %s", outcome.agent_leg, exc.message)
    elif outcome.decision == "requeued":
        _hold_with_queue_music(call=call, request=request)
        # Not straight back to the agent who has just let the transfer ring out (as after any missed ring).
        missed = (outcome.missed_agent_id,) if outcome.missed_agent_id else ()
        routing.route_waiting_callers(line=call.phone_line, request=request, exclude_agent_ids=missed)
    return outcome.decision


def _hold_with_queue_music(*, call: Call, request: HttpRequest | None) -> bool:
    """Hold the requeued caller with the queue-wait TwiML. A failure is logged: they keep their place in the queue,
    the routing attempt that follows still runs, and any agent who becomes available is offered them.

    The caller is in the queue from the moment the decision committed, so another request may ring an agent who
    answers (and takes the caller off hold) before this hold request reaches Twilio. Read again once Twilio has
    answered: if an agent has the caller by now, take them off hold again; ours was the late request.
    """
    try:
        gateway.set_participant_hold(
            conference_sid=call.conference_sid,
            call_sid=call.call_sid,
            hold=True,
            hold_url=webhook_url("queue-wait", request, callSid=call.call_sid),
        )
    except gateway.GatewayError as exc:
        logger.warning("could not play the queue music to requeued caller %s: %s", call.call_sid, exc.message)
        call_services.call_log_note(
            call=call,
            event=CallEvent.NOTE,
            message=f"Could not play the queue music to the caller: {exc.message} They keep their place in the "
            "queue; the next agent who becomes free is rung.",
            data={"requeued": True, "twilioCode": exc.twilio_code},
        )
        return False
    if call_services.is_talking(call_id=call.pk):
        requeued_caller_answered(call=call)
    return True


def requeued_caller_answered(*, call: Call) -> bool:
    """The agent rung for a requeued caller answered: take the caller off the queue music so the two can talk.

    For the participant callback, once the answer is stored (LegResult.unhold_caller). If Twilio refuses,
    the call is recorded as on hold (the caller does still hear music), so the agent's console offers Resume,
    which asks Twilio again.
    """
    try:
        gateway.set_participant_hold(conference_sid=call.conference_sid, call_sid=call.call_sid, hold=False)
    except gateway.GatewayError as exc:
        logger.warning("could not take requeued caller %s off hold: %s", call.call_sid, exc.message)
        call_services.call_record_hold(
            call_id=call.pk,
            message=f"The caller is still on the queue music: {exc.message} Resume the call to talk to them.",
        )
        return False
    return True
