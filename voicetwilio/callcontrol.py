"""Hold, resume and transfer a live call from the agent console (decisions 4 and 9).

Each action reads the call, asks Twilio first and writes our rows only once Twilio has agreed: a Twilio
failure (502) leaves the database exactly as it was, and no row lock is held while waiting on Twilio.
The writes re-read the call under a row lock, so two clicks racing each other record one change.

Repeating an action is harmless: holding a call already on hold (or resuming one that is not) sends
nothing to Twilio, writes nothing and answers `changed: false`.

Transfers (decision 4) add the new party to the call's conference and, when cold, remove the agent:
- to another agent (`client`): the agent is reserved exactly as routing reserves one (only if available,
  row taken with SKIP LOCKED, marked ringing, made the call's agent with no leg yet, so routing's participant
  callbacks drive their ringing and answering), then rung into the conference;
- to a phone number: dialled in from the line's number; the call then has no agent of ours (cold) or keeps
  the transferring agent (warm).
The departing agent's leg is first told not to end the conference, so the caller stays with the new party.
A cold transfer's agent goes to wrap-up at once; a warm one stays in the conference (and may still hold,
resume and transfer the call) until they hang up. Every transfer is one CallLog row naming who passed the
call to whom, numbered (`step`), so the rows read as the call's transfer chain.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from voiceconfig import calls as call_services
from voiceconfig.models import AgentStatus, Call, CallEvent, CallLog, CallStage, VoiceAgent, VoiceConfig
from voiceconfig.services import StateConflict
from voiceconfig.validators import normalize_e164

from . import gateway, routing
from .links import webhook_url

logger = logging.getLogger(__name__)

TRANSFER_LABEL = "transfer"


class InvalidDestination(Exception):
    """The transfer target is not a valid E.164 number or not one of our agents (the API answers 400)."""


@dataclass(frozen=True)
class HoldOutcome:
    call: Call
    changed: bool


def _actor(user) -> dict:
    return {"byUserId": user.pk, "by": user.get_username()} if user is not None else {}


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


def _log(call: Call, event: str, message: str, data: dict) -> None:
    call_services.call_log_add(
        call=call, call_sid=call.call_sid, event=event, call_status=call.status, message=message, data=data
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
    return call_record_hold(call_id=call.pk, user=user)


def call_resume(*, call: Call, user=None) -> HoldOutcome:
    """Bring the caller back from hold; the time on hold is added to the call's hold_seconds."""
    call = Call.objects.get(pk=call.pk)
    require_live(call, "resumed")
    if not call.on_hold:
        return HoldOutcome(call=call, changed=False)
    if not call.conference_sid:
        raise StateConflict(f"Call {call.call_sid} is not in a conference; it cannot be resumed.")
    gateway.set_participant_hold(conference_sid=call.conference_sid, call_sid=call.call_sid, hold=False)
    return call_record_resume(call_id=call.pk, user=user)


@transaction.atomic
def call_record_hold(*, call_id: int, user=None, message: str = "Caller put on hold") -> HoldOutcome:
    """Twilio has put the caller on hold: mark the call held from now and log it."""
    call = Call.objects.select_for_update().get(pk=call_id)
    if call.on_hold or not call.is_active:
        return HoldOutcome(call=call, changed=False)
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(on_hold=True, hold_started_at=now, updated_at=now)
    call.on_hold, call.hold_started_at = True, now
    _log(call, CallEvent.HOLD, message, {"agent": call.agent_id, **_actor(user)})
    return HoldOutcome(call=call, changed=True)


@transaction.atomic
def call_record_resume(*, call_id: int, user=None) -> HoldOutcome:
    """Twilio has taken the caller off hold: add this hold's length to hold_seconds and log it."""
    call = Call.objects.select_for_update().get(pk=call_id)
    if not call.on_hold:
        return HoldOutcome(call=call, changed=False)
    now = timezone.now()
    held = held_seconds(call, now=now)
    total = call.hold_seconds + held
    Call.objects.filter(pk=call.pk).update(on_hold=False, hold_started_at=None, hold_seconds=total, updated_at=now)
    call.on_hold, call.hold_started_at, call.hold_seconds = False, None, total
    _log(
        call,
        CallEvent.RESUME,
        f"Caller taken off hold after {held} s (on hold {total} s in all)",
        {"agent": call.agent_id, "heldSeconds": held, "holdSeconds": total, **_actor(user)},
    )
    return HoldOutcome(call=call, changed=True)


def held_seconds(call: Call, *, now=None) -> int:
    """Whole seconds of the current hold (0 when not on hold)."""
    if not (call.on_hold and call.hold_started_at):
        return 0
    return max(0, round(((now or timezone.now()) - call.hold_started_at).total_seconds()))


# --- transfer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    kind: str  # "phonenumber" or "client"
    to: str  # what Twilio dials: +E164 or client:<identity>
    agent: VoiceAgent | None = None

    @property
    def label(self) -> str:
        return f"agent {self.agent.identity}" if self.agent else self.to


@dataclass
class TransferOutcome:
    call: Call
    summary: dict = field(default_factory=dict)


def resolve_destination(*, kind: str, to: str, call: Call) -> Destination:
    """Validate the target: an E.164 number, or an existing agent (by id, identity or client:identity)."""
    text = (to or "").strip()
    if kind == "phonenumber":
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


@dataclass(frozen=True)
class _Before:
    """What a reservation changed, so a failed transfer can put every column back exactly."""

    agent_id: int | None
    agent_call_sid: str
    target_status: str = ""
    target_status_changed_at: datetime | None = None


def call_transfer(
    *, call: Call, kind: str, to: str, mode: str = "cold", user=None, request: HttpRequest | None = None
) -> TransferOutcome:
    """Pass a connected call to a phone number or another agent; see the module docstring."""
    call = Call.objects.select_related("phone_line__config", "agent").get(pk=call.pk)
    require_connected(call, "transferred")
    destination = resolve_destination(kind=kind, to=to, call=call)
    from_agent = call.agent
    from_leg = call.agent_call_sid
    cold = mode == "cold"

    before = _reserve_transferee(call=call, destination=destination) if destination.agent else None
    try:
        new_leg = _move_legs_at_twilio(
            call=call, destination=destination, from_leg=from_leg, cold=cold, request=request
        )
    except Exception:
        # Twilio refused (or anything else went wrong): nobody must stay reserved for a transfer that failed.
        if before is not None:
            _undo_reservation(call=call, destination=destination, before=before)
        raise
    return _record_transfer(
        call_id=call.pk,
        destination=destination,
        from_agent=from_agent,
        from_leg=from_leg,
        new_leg=new_leg,
        cold=cold,
        user=user,
    )


@transaction.atomic
def _reserve_transferee(*, call: Call, destination: Destination) -> _Before:
    """Reserve the receiving agent as routing does: available now, locked without waiting, then ringing."""
    locked = Call.objects.select_for_update().get(pk=call.pk)
    if locked.agent_id != call.agent_id or locked.agent_call_sid != call.agent_call_sid or not locked.is_active:
        raise StateConflict(f"Call {call.call_sid} changed while it was being transferred; try again.")
    target = destination.agent
    available = (
        call_services.available_agents(line=None).filter(pk=target.pk).select_for_update(skip_locked=True).first()
    )
    if available is None:
        target.refresh_from_db(fields=["status", "last_heartbeat_at"])
        raise StateConflict(
            f"Agent {target.identity} is not available to take a transfer ({target.get_status_display().lower()}"
            f"{'' if _online(target) else ', console offline'})."
        )
    before = _Before(
        agent_id=locked.agent_id,
        agent_call_sid=locked.agent_call_sid,
        target_status=available.status,
        target_status_changed_at=available.status_changed_at,
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            Call.objects.filter(pk=locked.pk).update(agent=available, agent_call_sid="")
    except IntegrityError as exc:  # the one-call-per-agent constraint: they were given a call meanwhile
        raise StateConflict(f"Agent {target.identity} has just been given another call.") from exc
    VoiceAgent.objects.filter(pk=available.pk).update(status=AgentStatus.RINGING, status_changed_at=now)
    return before


def _online(agent: VoiceAgent) -> bool:
    return bool(agent.last_heartbeat_at and agent.last_heartbeat_at >= call_services.heartbeat_cutoff())


@transaction.atomic
def _undo_reservation(*, call: Call, destination: Destination, before: _Before) -> None:
    """Twilio refused: the call and both agents go back to exactly what they were."""
    Call.objects.filter(pk=call.pk, agent=destination.agent).update(
        agent_id=before.agent_id, agent_call_sid=before.agent_call_sid
    )
    VoiceAgent.objects.filter(pk=destination.agent.pk, status=AgentStatus.RINGING).update(
        status=before.target_status, status_changed_at=before.target_status_changed_at
    )


def _move_legs_at_twilio(
    *, call: Call, destination: Destination, from_leg: str, cold: bool, request: HttpRequest | None
) -> str:
    """Add the new party, keep the conference alive without the agent, and (cold) take the agent out.

    If a later step fails, the earlier ones are undone as far as Twilio lets us, so a 502 means the call
    is as it was: the caller still talking to the same agent.
    """
    config = call.phone_line.config if call.phone_line_id else None
    callback_query: dict = {"callSid": call.call_sid}
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


@transaction.atomic
def _record_transfer(
    *,
    call_id: int,
    destination: Destination,
    from_agent: VoiceAgent,
    from_leg: str,
    new_leg: str,
    cold: bool,
    user=None,
) -> TransferOutcome:
    """Twilio has done it: store who has the call now, settle the departing agent, log the chain."""
    call = Call.objects.select_for_update().get(pk=call_id)
    now = timezone.now()
    updates: dict = {"updated_at": now}
    if destination.agent:
        # Reserved above: attach the new leg unless routing's callbacks already did.
        if call.agent_id == destination.agent.pk and call.agent_call_sid in ("", new_leg):
            updates["agent_call_sid"] = new_leg
    elif cold:
        updates.update(agent=None, agent_call_sid="")
    if cold and call.on_hold:
        held = held_seconds(call, now=now)
        updates.update(on_hold=False, hold_started_at=None, hold_seconds=call.hold_seconds + held)
        _log(
            call,
            CallEvent.RESUME,
            f"Caller taken off hold after {held} s for the transfer",
            {"heldSeconds": held, "holdSeconds": call.hold_seconds + held, **_actor(user)},
        )
    Call.objects.filter(pk=call.pk).update(**updates)
    call.refresh_from_db()

    step = CallLog.objects.filter(call=call, event=CallEvent.TRANSFER).count() + 1
    summary = {
        "step": step,
        "type": destination.kind,
        "to": destination.to,
        "mode": "cold" if cold else "warm",
        "fromAgent": from_agent.pk,
        "fromIdentity": from_agent.identity,
        "toAgent": destination.agent.pk if destination.agent else None,
        "participantCallSid": new_leg,
        "previousAgentCallSid": from_leg,
    }
    _log(
        call,
        CallEvent.TRANSFER,
        f"{'Cold' if cold else 'Warm'} transfer #{step}: agent {from_agent.identity} passed the call to "
        f"{destination.label}" + ("" if cold else f"; {from_agent.identity} stays to introduce the caller"),
        {**summary, **_actor(user)},
    )
    if cold:
        _start_wrap_up(agent=from_agent, call=call, now=now)
        _log(
            call,
            CallEvent.AGENT,
            f"Agent {from_agent.identity} left the call (cold transfer #{step})",
            {"agent": from_agent.pk, "leg": from_leg, "left": True},
        )
    return TransferOutcome(call=call, summary={key: summary[key] for key in summary if key != "fromIdentity"})


def _start_wrap_up(*, agent: VoiceAgent, call: Call, now: datetime) -> None:
    """The agent is off the call: wrap-up for the line's time, then available again (as after any call)."""
    config = call.phone_line.config if call.phone_line_id else None
    seconds = config.wrap_up_seconds if config else 0
    VoiceAgent.objects.filter(pk=agent.pk, status=AgentStatus.IN_CALL).update(
        status=AgentStatus.WRAP_UP, status_changed_at=now, wrap_up_until=now + timedelta(seconds=seconds)
    )
    VoiceAgent.objects.filter(pk=agent.pk).update(last_call_ended_at=now)


def _last_transfer(call: Call) -> CallLog | None:
    return CallLog.objects.filter(call=call, event=CallEvent.TRANSFER).order_by("-created_at", "-id").first()


def warm_transferrer_of(call: Call) -> int | None:
    """The agent who warm-transferred this call and is still in it: they may go on acting on the call."""
    last = _last_transfer(call)
    if last is None or last.data.get("mode") != "warm":
        return None
    agent_id = last.data.get("fromAgent")
    still_there = VoiceAgent.objects.filter(pk=agent_id, status=AgentStatus.IN_CALL).exists()
    elsewhere = Call.objects.active().filter(agent_id=agent_id).exclude(pk=call.pk).exists()
    return agent_id if still_there and not elsewhere else None


@transaction.atomic
def agent_leg_left(*, call_sid: str, leg_sid: str, agent_id: int) -> bool:
    """An agent hung up while the call goes on without them, after a warm transfer: they go to wrap-up.

    For routing's participant callback, on the `completed` event of an agent's leg. It covers the two warm
    cases the caller's own status callback cannot: the agent left a call now held by another agent (their leg
    is no longer the current one), or left the caller with an outside number they brought in (the call then
    has no agent of ours). Any other leg changes nothing. Returns whether anything changed.
    """
    call = (
        Call.objects.select_for_update(of=("self",))
        .select_related("phone_line__config")
        .filter(call_sid=call_sid)
        .first()
    )
    if call is None or not call.is_active:
        return False
    current = call.agent_id == agent_id and call.agent_call_sid == leg_sid
    last = _last_transfer(call)
    warm_from_this_agent = (
        last is not None and last.data.get("mode") == "warm" and last.data.get("fromAgent") == agent_id
    )
    if current and not (warm_from_this_agent and last.data.get("type") == "phonenumber"):
        return False  # the ordinary end of the agent's part: the caller's status callback settles it
    agent = VoiceAgent.objects.select_for_update().filter(pk=agent_id, status=AgentStatus.IN_CALL).first()
    if agent is None:
        return False
    now = timezone.now()
    if current:
        Call.objects.filter(pk=call.pk).update(agent=None, agent_call_sid="", updated_at=now)
    elif Call.objects.active().filter(agent=agent).exists():
        return False
    _start_wrap_up(agent=agent, call=call, now=now)
    _log(
        call,
        CallEvent.AGENT,
        f"Agent {agent.identity} left the call after the warm transfer",
        {"agent": agent.pk, "leg": leg_sid, "left": True},
    )
    return True


def transfer_leg_unanswered(*, call_sid: str, leg_sid: str, request: HttpRequest | None = None) -> str:
    """A transfer's new party did not answer (no-answer, busy, failed, canceled): decide what the call does next.

    For routing's participant callback, after it has applied the leg event (which frees a receiving agent who let
    it ring out). A warm transfer's call goes back to the agent who stayed with the caller; after a cold one the
    caller is alone in the conference, so they rejoin the queue (with their original place) and routing rings
    the next free agent into the same conference. Any other leg changes nothing. Returns what was done:
    "", "back-to-agent" or "requeued". Twice the same news decides once.

    A requeued caller is put on hold with the queue-wait URL as hold music: the conference has started, so its
    waitUrl will not play again, and each hold-music fetch retries routing and checks the maximum wait, exactly
    as for a caller who has just arrived. The agent's answer takes them off hold (`requeued_caller_answered`).
    """
    outcome = _decide_after_unanswered_transfer(call_sid=call_sid, leg_sid=leg_sid)
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
    the routing attempt that follows still runs, and any agent who becomes available is offered them."""
    try:
        gateway.set_participant_hold(
            conference_sid=call.conference_sid,
            call_sid=call.call_sid,
            hold=True,
            hold_url=webhook_url("queue-wait", request, callSid=call.call_sid),
        )
    except gateway.GatewayError as exc:
        logger.warning("could not play the queue music to requeued caller %s: %s", call.call_sid, exc.message)
        _log(
            call,
            CallEvent.NOTE,
            f"Could not play the queue music to the caller: {exc.message} They keep their place in the queue; the "
            "next agent who becomes free is rung.",
            {"requeued": True, "twilioCode": exc.twilio_code},
        )
        return False
    return True


def requeued_caller_answered(*, call: Call) -> bool:
    """The agent rung for a requeued caller answered: take the caller off the queue music so the two can talk.

    For routing's participant callback, once the answer is stored (LegResult.unhold_caller). If Twilio refuses,
    the call is recorded as on hold (the caller does still hear music), so the agent's console offers Resume,
    which asks Twilio again.
    """
    try:
        gateway.set_participant_hold(conference_sid=call.conference_sid, call_sid=call.call_sid, hold=False)
    except gateway.GatewayError as exc:
        logger.warning("could not take requeued caller %s off hold: %s", call.call_sid, exc.message)
        call_record_hold(
            call_id=call.pk,
            message=f"The caller is still on the queue music: {exc.message} Resume the call to talk to them.",
        )
        return False
    return True


@dataclass(frozen=True)
class _Unanswered:
    decision: str  # "", "back-to-agent" or "requeued"
    call: Call | None = None
    agent_leg: str = ""  # the warm-transferring agent's leg
    missed_agent_id: int | None = None  # the agent a cold transfer rang in vain


@transaction.atomic
def _decide_after_unanswered_transfer(*, call_sid: str, leg_sid: str) -> _Unanswered:
    call = Call.objects.select_for_update(of=("self",)).select_related("phone_line").filter(call_sid=call_sid).first()
    if call is None or not call.is_active:
        return _Unanswered("", call)
    transfer = (
        CallLog.objects.filter(call=call, event=CallEvent.TRANSFER, data__participantCallSid=leg_sid)
        .order_by("-id")
        .first()
    )
    dedupe_key = f"transfer-unanswered:{leg_sid}"
    if transfer is None or CallLog.objects.filter(call_sid=call.call_sid, dedupe_key=dedupe_key).exists():
        return _Unanswered("", call)
    step, from_agent_id = transfer.data.get("step"), transfer.data.get("fromAgent")
    if transfer.data.get("mode") == "warm":
        from_agent = VoiceAgent.objects.filter(pk=from_agent_id, status=AgentStatus.IN_CALL).first()
        if from_agent is None:
            decision, message = "", f"Transfer #{step} was not answered, and the transferring agent has left."
        elif call.agent_id in (None, from_agent.pk):
            Call.objects.filter(pk=call.pk).update(
                agent=from_agent,
                agent_call_sid=transfer.data.get("previousAgentCallSid", ""),
                updated_at=timezone.now(),
            )
            decision, message = (
                "back-to-agent",
                f"Transfer #{step} was not answered: {from_agent.identity} keeps the call.",
            )
        else:
            decision, message = "", f"Transfer #{step} was not answered."
    elif call.agent_id is None:
        decision, message = "requeued", f"Transfer #{step} was not answered: the caller waits for the next agent."
    else:
        decision, message = "", f"Transfer #{step} was not answered."
    if decision == "requeued":
        # Back in line with the original queued_at, so they are the next caller served; the wait counts anew.
        now = timezone.now()
        Call.objects.filter(pk=call.pk, agent__isnull=True).update(
            stage=CallStage.QUEUED, requeued_at=now, updated_at=now
        )
        call.stage, call.requeued_at = CallStage.QUEUED, now
    CallLog.objects.create(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        call_status=call.status,
        message=message,
        data={"transferStep": step, "participantCallSid": leg_sid, "outcome": decision or "none"},
        dedupe_key=dedupe_key,
    )
    return _Unanswered(
        decision,
        call,
        agent_leg=transfer.data.get("previousAgentCallSid", ""),
        missed_agent_id=transfer.data.get("toAgent") if decision == "requeued" else None,
    )
