"""`ring-all` departments (issue 16): every free member is rung at once; the first to answer gets the caller.

One `RingOffer` row per rung leg. While offers ring the call keeps no agent (so no agent's one-live-call constraint
is taken), but it is not waiting either: `waiting_calls` passes over a call with a live offer, so nobody else is
reserved for it, and an agent with a live offer is `ringing` (and the partial unique index allows one live offer
per agent), so no other call is offered to them.

Locks, always in this order: the call's row, then its offers, then agents (taken SKIP LOCKED when reserving).
Every write to a call's offers holds the call's row lock, so the leg that answers first decides alone: it becomes
the call's agent leg (the one-live-call constraint checks it in a savepoint), the other offers are cancelled in the
same transaction and their agents are free again at once; the edge hangs their legs up after the commit.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from ..models import (
    TERMINAL_CALL_STATUSES,
    AgentStatus,
    Call,
    CallEvent,
    CallStage,
    CallStatus,
    RingOffer,
    RingOfferState,
    VoiceAgent,
)
from .availability import available_agents
from .log import call_log_add
from .strategies import Candidate

LIVE = RingOfferState.RINGING
# status.UNANSWERED (status.py imports this module, so not from there): every end but `completed`.
UNANSWERED = frozenset(TERMINAL_CALL_STATUSES) - {CallStatus.COMPLETED}


def live_offer_exists() -> Exists:
    """For a Call queryset: the call is being rung by a ring-all offer (so it is not waiting for a match)."""
    return Exists(RingOffer.objects.filter(call_id=OuterRef("pk"), state=LIVE))


def has_live_offers(call: Call) -> bool:
    return RingOffer.objects.filter(call_id=call.pk, state=LIVE).exists()


def ringing_offer_call(*, agent: VoiceAgent) -> Call | None:
    """The call a ring-all is ringing this agent for (read only for a `ringing` agent: no query otherwise)."""
    if agent.status != AgentStatus.RINGING:
        return None
    offer = RingOffer.objects.filter(agent_id=agent.pk, state=LIVE).select_related("call__phone_line").first()
    return offer.call if offer is not None else None


def ring_all_members(candidates: list[Candidate], ranked: list[int]) -> list[int]:
    """The members a ring-all rings: every free one of the best level that has a free member (levels still
    widen one at a time, as for the other strategies; overflow members count as a worse level)."""
    if not candidates:
        return []
    best = min(c.level for c in candidates)
    at_best = {c.agent_id for c in candidates if c.level == best}
    return [agent_id for agent_id in ranked if agent_id in at_best]


def ring_offers_create(*, call: Call, agent_ids: list[int], now: datetime) -> list[RingOffer]:
    """In the reservation's transaction (the call is locked): ring every one of `agent_ids` still free that no
    other request is taking (one SKIP LOCKED statement, whatever the count). Empty when none could be taken."""
    if not agent_ids:
        return []
    agents = list(
        available_agents(line=None, now=now)
        .filter(pk__in=agent_ids)
        .exclude(Exists(RingOffer.objects.filter(agent_id=OuterRef("pk"), state=LIVE)))
        .select_for_update(skip_locked=True)
    )
    if not agents:
        return []
    agents.sort(key=lambda agent: agent_ids.index(agent.pk))
    try:
        with transaction.atomic():
            offers = RingOffer.objects.bulk_create(
                [RingOffer(call=call, agent=agent, created_at=now) for agent in agents]
            )
    except IntegrityError:  # one live offer per agent: one was given meanwhile; the next round tries again
        return []
    VoiceAgent.objects.filter(pk__in=[agent.pk for agent in agents]).update(
        status=AgentStatus.RINGING, status_changed_at=now
    )
    call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.ROUTING,
        message=f"Ringing all {len(agents)} free members at once: {', '.join(str(a) for a in agents)}.",
        data={"agents": [agent.pk for agent in agents], "ringAll": True},
    )
    return offers


def _end_offers(offers: QuerySet[RingOffer], *, state: str, now: datetime, missed: bool = False) -> list[str]:
    """End these offers (those still live) and free their agents at once. Returns their known leg SIDs."""
    rows = list(offers.filter(state=LIVE).select_for_update().values_list("pk", "agent_id", "leg_call_sid"))
    if not rows:
        return []
    RingOffer.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(state=state, ended_at=now)
    agent_updates: dict = {"status": AgentStatus.AVAILABLE, "status_changed_at": now}
    if missed:  # let it ring out: to the back of the longest-idle line, as after a missed ordinary ring
        agent_updates["last_call_ended_at"] = now
    VoiceAgent.objects.filter(pk__in=[agent for _, agent, _ in rows], status=AgentStatus.RINGING).update(
        **agent_updates
    )
    return [leg for _, _, leg in rows if leg]


@transaction.atomic
def ring_offers_record(*, call: Call, legs: dict[int, str], conference_sid: str, failed: list[int]) -> list[str]:
    """After ringing: store each offer's leg SID, and end the offers Twilio refused. Returns the legs to hang up:
    offers cancelled before their SID was known (someone answered, or the caller left, while we were ringing).

    Under the call's row lock, like the winner's decision, so a leg is either cancelled with its SID or finds
    its offer cancelled here."""
    now = timezone.now()
    Call.objects.select_for_update().filter(pk=call.pk).values_list("pk").first()
    if conference_sid:
        Call.objects.filter(pk=call.pk, conference_sid="").update(conference_sid=conference_sid)
    stale: list[str] = []
    if legs:
        RingOffer.objects.bulk_update(
            [RingOffer(pk=pk, leg_call_sid=leg) for pk, leg in legs.items()], ["leg_call_sid"]
        )
        stale = list(
            RingOffer.objects.filter(pk__in=list(legs), state=RingOfferState.CANCELLED).values_list(
                "leg_call_sid", flat=True
            )
        )
    if failed:
        _end_offers(RingOffer.objects.filter(pk__in=failed), state=RingOfferState.MISSED, now=now)
        call_log_add(
            call=call,
            call_sid=call.call_sid,
            event=CallEvent.ROUTING,
            message=f"Twilio would not ring {len(failed)} of the members; they are free again.",
            data={"failedOffers": failed},
        )
    return stale


@transaction.atomic
def ring_offers_cancel(*, call: Call) -> list[str]:
    """The caller left while members were being rung: cancel every live offer, free their agents, and return
    the legs to hang up. One cheap statement when there is none."""
    return _end_offers(RingOffer.objects.filter(call_id=call.pk), state=RingOfferState.CANCELLED, now=timezone.now())


@dataclass
class OfferOutcome:
    won: bool = False  # this leg answered first: it is the call's agent leg now
    legs_to_cancel: list[str] = field(default_factory=list)  # the other members' legs
    hang_up_leg: str = ""  # this leg answered too late
    notes: list[str] = field(default_factory=list)


def ring_offer_leg_event(*, call: Call, leg_sid: str, agent_id: int, status: str, now: datetime) -> OfferOutcome:
    """One event of a ring-all leg that is not (yet) the call's agent leg; `call` is locked by the caller."""
    outcome = OfferOutcome()
    offer = (
        RingOffer.objects.select_for_update()
        .filter(call_id=call.pk, agent_id=agent_id, leg_call_sid__in=["", leg_sid])
        .exclude(state=RingOfferState.ANSWERED)
        .order_by("-id")
        .first()
    )
    live = offer is not None and offer.state == LIVE
    if status == CallStatus.IN_PROGRESS:
        if live and _take_call(call=call, agent_id=agent_id, leg_sid=leg_sid, now=now):
            RingOffer.objects.filter(pk=offer.pk).update(
                state=RingOfferState.ANSWERED, leg_call_sid=leg_sid, ended_at=now
            )
            others = RingOffer.objects.filter(call_id=call.pk).exclude(pk=offer.pk)
            outcome.legs_to_cancel = _end_offers(others, state=RingOfferState.CANCELLED, now=now)
            outcome.won = True
            outcome.notes.append(
                f"Agent {agent_id} answered first; {len(outcome.legs_to_cancel)} other ring-all legs are cancelled."
            )
            return outcome
        if live:
            _end_offers(RingOffer.objects.filter(pk=offer.pk), state=RingOfferState.LOST, now=now)
        outcome.hang_up_leg = leg_sid
        outcome.notes.append(f"Agent {agent_id} answered after the caller was taken or had left: their leg ends.")
    elif status in UNANSWERED and live:
        _end_offers(RingOffer.objects.filter(pk=offer.pk), state=RingOfferState.MISSED, now=now, missed=True)
        outcome.notes.append(f"Agent {agent_id} did not answer the ring-all ({status}) and is released.")
        if not RingOffer.objects.filter(call_id=call.pk, state=LIVE).exists():
            outcome.notes.append("Nobody answered: the caller keeps waiting and is offered again.")
    else:
        outcome.notes.append(f"Ring-all leg of agent {agent_id}: {status}.")
    return outcome


def _take_call(*, call: Call, agent_id: int, leg_sid: str, now: datetime) -> bool:
    """Make this agent the waiting call's agent, unless the caller is taken, gone, or the agent has a live call
    (the one-live-call constraint, checked in a savepoint so a refusal does not spoil the transaction)."""
    if call.stage != CallStage.QUEUED or call.agent_id is not None or call.status in TERMINAL_CALL_STATUSES:
        return False
    try:
        with transaction.atomic():
            Call.objects.filter(pk=call.pk).update(agent_id=agent_id, agent_call_sid=leg_sid, updated_at=now)
    except IntegrityError:
        return False
    call.agent_id, call.agent_call_sid = agent_id, leg_sid
    return True
