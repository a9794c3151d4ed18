"""Queued callbacks (issue 19): the offer, keeping the caller's place, agent first, attempts with a delay.

The gateway is mocked here; tests/test_callbacks_concurrency.py runs real parallel processes on PostgreSQL.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.console_support import waiting_call
from tests.twilio.fixtures import twiml_of, verbs
from tests.twilio.payloads import sid
from voiceconfig.calls import callbacks as callback_services
from voiceconfig.models import (
    AgentStatus,
    Call,
    Callback,
    CallbackState,
    CallDirection,
    CallStage,
    CallStatus,
    Department,
    DepartmentMember,
    VoiceAgent,
)
from voicetwilio import gateway

CUSTOMER = "+14155550188"


@pytest.fixture
def offering(config):
    config.callback_offer_after_seconds = 60
    config.callback_max_attempts = 2
    config.callback_retry_seconds = 120
    config.save()
    return config


def said(root) -> str:
    return " ".join(element.text or "" for element in root.iter("Say"))


def accepted_callback(twilio, line, *, n: int = 1, waited: int = 90) -> Callback:
    call = waiting_call(line=line, n=n, waited=waited)
    twilio.queue_wait(call.call_sid)
    twiml_of(
        twilio.post("callback-choice", "gather", query={"callSid": call.call_sid}, CallSid=call.call_sid, Digits="1")
    )
    return Callback.objects.get(call=call)


def leg(twilio, callback: Callback, which: str, leg_sid: str, status: str, seq: int = 1):
    return twilio.post(
        "callback-leg",
        "status_callback",
        query={"callback": callback.pk, "leg": which},
        CallSid=leg_sid,
        CallStatus=status,
        SequenceNumber=seq,
    )


def test_a_caller_who_waited_long_enough_is_offered_once(twilio, line, offering, twilio_gateway):
    call = waiting_call(line=line, n=1, waited=90)

    twilio.queue_wait(call.call_sid)
    twilio.queue_wait(call.call_sid)

    assert twilio_gateway.redirect_call.call_count == 1
    assert "/voicetwilio/callbackoffer?callSid=" in twilio_gateway.redirect_call.call_args.kwargs["url"]
    root = twiml_of(twilio.post("callback-offer", "gather", query={"callSid": call.call_sid}, CallSid=call.call_sid))
    assert "press 1" in said(root) and verbs(root) == ["Gather", "Redirect"]


def test_no_offer_before_the_wait_or_when_the_config_offers_none(twilio, line, config, twilio_gateway):
    twilio.queue_wait(waiting_call(line=line, n=1, waited=200).call_sid)  # config offers none (0)
    config.callback_offer_after_seconds = 120
    config.save()
    twilio.queue_wait(waiting_call(line=line, n=2, waited=30).call_sid)

    twilio_gateway.redirect_call.assert_not_called()
    assert not Callback.objects.exists()


def test_pressing_1_ends_the_call_and_keeps_the_callers_place(twilio, line, offering, twilio_gateway):
    call = waiting_call(line=line, n=1, waited=90)
    twilio.queue_wait(call.call_sid)

    root = twiml_of(
        twilio.post("callback-choice", "gather", query={"callSid": call.call_sid}, CallSid=call.call_sid, Digits="1")
    )

    assert "call you back" in said(root) and verbs(root)[-1] == "Hangup"
    callback = Callback.objects.get(call=call)
    assert callback.state == CallbackState.WAITING and callback.queued_at == call.queued_at
    assert callback.customer_number == call.from_number
    call.refresh_from_db()
    assert call.stage == CallStage.MESSAGE  # out of the queue: no agent is rung for the ended call


def test_not_pressing_1_puts_the_caller_back_in_their_conference(twilio, line, offering, twilio_gateway):
    call = waiting_call(line=line, n=1, waited=90)
    twilio.queue_wait(call.call_sid)

    root = twiml_of(
        twilio.post("callback-choice", "gather", query={"callSid": call.call_sid}, CallSid=call.call_sid, Digits="")
    )

    assert root.find("Dial/Conference").text == call.conference_name
    assert Callback.objects.get(call=call).state == CallbackState.DECLINED
    call.refresh_from_db()
    assert call.stage == CallStage.QUEUED and call.queued_at is not None


def test_a_callback_waits_while_someone_who_waited_longer_is_on_the_line(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line, n=1, waited=90)
    online_agent("alice")
    waiting_call(line=line, n=2, waited=300)  # waited longer, still on the line

    assert callback_services.callback_claim_due() is None
    callback.refresh_from_db()
    assert callback.state == CallbackState.WAITING and callback.agent is None


def test_answered_first_try_rings_the_agent_first_then_dials_the_customer_from_the_line(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line)  # nobody free while they waited
    alice = online_agent("alice")

    call_command("run_due_callbacks")

    ring = twilio_gateway.add_participant.call_args.kwargs
    assert ring["to"] == "client:alice" and ring["from_"] == line.phone_number
    assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.RINGING
    agent_leg = sid("CA", 0xB001)
    leg(twilio, callback, "agent", agent_leg, "in-progress")

    dialled = twilio_gateway.add_participant.call_args.kwargs
    assert dialled["to"] == CUSTOMER and dialled["from_"] == line.phone_number
    assert dialled["conference_name"] == ring["conference_name"]
    callback.refresh_from_db()
    assert callback.state == CallbackState.DIALING and callback.attempts == 1
    outbound = callback.outbound_call
    assert outbound.direction == CallDirection.OUTBOUND_API and outbound.agent == alice and outbound.phone_line == line

    leg(twilio, callback, "customer", outbound.call_sid, "in-progress")
    callback.refresh_from_db()
    assert callback.state == CallbackState.COMPLETED
    assert Call.objects.get(pk=callback.call_id).followed_up_at is not None
    leg(twilio, callback, "customer", outbound.call_sid, "completed", seq=2)
    assert Call.objects.get(pk=outbound.pk).status == CallStatus.COMPLETED
    assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.WRAP_UP


def test_a_customer_who_does_not_answer_is_tried_again_after_the_delay_then_fails(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line)  # nobody free while they waited
    alice = online_agent("alice")

    for attempt in (1, 2):
        assert callback_services.callback_claim_due() is not None
        leg(twilio, callback, "agent", sid("CA", 0xB000 + attempt), "in-progress")
        customer_leg = twilio_gateway.add_participant.call_args  # the fake answers with a fresh leg SID
        callback.refresh_from_db()
        leg(twilio, callback, "customer", callback.customer_call_sid, "no-answer")
        callback.refresh_from_db()
        assert callback.attempts == attempt and customer_leg is not None
        assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.AVAILABLE
        assert twilio_gateway.end_call.call_args.kwargs == {"call_sid": sid("CA", 0xB000 + attempt)}
        if attempt == 1:
            assert callback.state == CallbackState.WAITING
            assert callback.next_attempt_at > timezone.now() + timedelta(seconds=110)
            assert callback_services.callback_claim_due() is None  # not before the retry delay
            Callback.objects.filter(pk=callback.pk).update(next_attempt_at=timezone.now())  # the delay has passed
    assert callback.state == CallbackState.FAILED


def test_an_agent_who_lets_it_ring_out_costs_no_attempt(twilio, line, offering, online_agent, twilio_gateway):
    callback = accepted_callback(twilio, line)  # nobody free while they waited
    alice = online_agent("alice")
    callback_services.callback_claim_due()

    leg(twilio, callback, "agent", sid("CA", 0xB001), "no-answer")

    callback.refresh_from_db()
    assert callback.state == CallbackState.WAITING and callback.attempts == 0 and callback.agent is None
    assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.AVAILABLE


def test_twilio_refusing_to_ring_the_agent_keeps_the_callback_waiting(
    twilio, line, offering, online_agent, twilio_gateway
):
    from voicetwilio import gateway

    callback = accepted_callback(twilio, line)  # nobody free while they waited
    alice = online_agent("alice")
    twilio_gateway.add_participant.side_effect = gateway.GatewayError("Twilio said no")

    call_command("run_due_callbacks")

    callback.refresh_from_db()
    assert callback.state == CallbackState.WAITING and "Twilio said no" in callback.last_error
    assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.AVAILABLE
    # Asked once in this run (the next run tries again), not once per claim up to the run's limit of 1,000.
    assert twilio_gateway.add_participant.call_count == 1


def test_a_callback_twilio_refuses_does_not_hold_up_the_next_one(twilio, line, offering, online_agent, twilio_gateway):
    from voicetwilio import gateway

    first = accepted_callback(twilio, line, n=1, waited=120)  # the longest waiting: claimed first, and refused
    second = accepted_callback(twilio, line, n=2, waited=90)
    online_agent("alice")
    refused_once = [gateway.GatewayError("Twilio said no")]

    def add_participant(**kwargs):
        if refused_once:
            raise refused_once.pop()
        return gateway.Participant(call_sid=sid("CA", 0xB0FF), conference_sid=sid("CF", 2))

    twilio_gateway.add_participant.side_effect = add_participant

    call_command("run_due_callbacks")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (CallbackState.WAITING, CallbackState.RINGING_AGENT)


def test_the_agents_answer_delivered_twice_dials_the_customer_once(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line)
    online_agent("alice")
    callback_services.callback_claim_due()

    leg(twilio, callback, "agent", sid("CA", 0xB001), "in-progress")
    leg(twilio, callback, "agent", sid("CA", 0xB001), "in-progress")

    assert [c.kwargs["to"] for c in twilio_gateway.add_participant.call_args_list] == [CUSTOMER]


def test_the_database_refuses_a_second_callback_in_progress_for_one_agent(line, online_agent):
    from django.db import IntegrityError, transaction

    alice = online_agent("alice")
    for n, state in ((1, CallbackState.DIALING), (2, CallbackState.RINGING_AGENT)):
        call = waiting_call(line=line, n=n, waited=10)
        make = dict(call=call, customer_number=CUSTOMER, state=state, queued_at=call.queued_at, agent=alice)
        if n == 1:
            Callback.objects.create(next_attempt_at=timezone.now(), **make)
        else:
            with pytest.raises(IntegrityError), transaction.atomic():
                Callback.objects.create(next_attempt_at=timezone.now(), **make)


def test_an_always_line_records_the_callback_once_the_customer_answers(
    twilio, line, config, offering, online_agent, twilio_gateway, monkeypatch
):
    config.recording_policy = "always"
    config.save()
    started = []
    monkeypatch.setattr(gateway, "start_call_recording", lambda **kw: started.append(kw) or sid("RE", 8))
    callback = accepted_callback(twilio, line)
    online_agent("alice")
    call_command("run_due_callbacks")
    leg(twilio, callback, "agent", sid("CA", 0xB002), "in-progress")
    callback.refresh_from_db()
    assert started == [], "not while only the agent is on the line"

    leg(twilio, callback, "customer", callback.outbound_call.call_sid, "in-progress")

    assert [kw["call_sid"] for kw in started] == [callback.outbound_call.call_sid]
    assert callback.outbound_call.recordings.get().recording_sid == sid("RE", 8)
    told = twilio_gateway.announce_to_participant.call_args.kwargs  # the consent, as an inbound caller hears it
    assert (
        told["call_sid"] == callback.outbound_call.call_sid and "/voicetwilio/recordingconsent?" in told["announce_url"]
    )


def test_a_callback_is_answered_by_the_callers_department_by_its_levels(
    twilio, line, offering, online_agent, twilio_gateway
):
    call = waiting_call(line=line, n=1, waited=90)
    alice = online_agent("alice")  # idle longest, answers the line (it lists nobody): the line rule would ring her
    bob, carol = online_agent("bob"), online_agent("carol")
    billing = Department.objects.create(name="Billing")
    DepartmentMember.objects.create(department=billing, agent=bob, level=2, position=0)
    DepartmentMember.objects.create(department=billing, agent=carol, level=1, position=1)
    Call.objects.filter(pk=call.pk).update(department=billing)
    VoiceAgent.objects.filter(pk__in=[alice.pk, bob.pk, carol.pk]).update(status=AgentStatus.UNAVAILABLE)
    twilio.queue_wait(call.call_sid)
    twilio.post("callback-choice", "gather", query={"callSid": call.call_sid}, CallSid=call.call_sid, Digits="1")
    callback = Callback.objects.get(call=call)
    assert callback.department == billing, "the callback keeps the department the caller waited in"
    VoiceAgent.objects.filter(pk__in=[alice.pk, bob.pk, carol.pk]).update(status=AgentStatus.AVAILABLE)

    call_command("run_due_callbacks")

    assert twilio_gateway.add_participant.call_args.kwargs["to"] == "client:carol", "best level first"
    callback.refresh_from_db()
    assert callback.agent == carol
    assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.AVAILABLE


def test_a_departments_callback_waits_while_only_non_members_are_free(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line)  # nobody free while they waited
    billing = Department.objects.create(name="Billing")
    DepartmentMember.objects.create(
        department=billing, agent=online_agent("bob", status=AgentStatus.UNAVAILABLE), level=1
    )
    Callback.objects.filter(pk=callback.pk).update(department=billing)
    online_agent("alice")  # free, but not in Billing

    call_command("run_due_callbacks")

    twilio_gateway.add_participant.assert_not_called()
    callback.refresh_from_db()
    assert callback.state == CallbackState.WAITING and callback.agent is None


def test_a_callbacks_turn_is_compared_only_with_callers_waiting_in_its_own_department(
    twilio, line, offering, online_agent, twilio_gateway
):
    """Two departments on one line: a Sales caller who waited longer does not hold back a Billing callback; a
    Billing caller who waited longer does."""
    callback = accepted_callback(twilio, line, n=1, waited=90)  # nobody free while they waited
    sales, billing = Department.objects.create(name="Sales"), Department.objects.create(name="Billing")
    Callback.objects.filter(pk=callback.pk).update(department=billing)
    bob = online_agent("bob")
    DepartmentMember.objects.create(department=billing, agent=bob, level=1)
    sales_caller = waiting_call(line=line, n=2, waited=300)
    billing_caller = waiting_call(line=line, n=3, waited=200)
    Call.objects.filter(pk=sales_caller.pk).update(department=sales)
    Call.objects.filter(pk=billing_caller.pk).update(department=billing)

    assert callback_services.callback_claim_due() is None, "the Billing caller waited longer: their turn first"

    Call.objects.filter(pk=billing_caller.pk).update(stage=CallStage.ABANDONED, status=CallStatus.COMPLETED)
    claim = callback_services.callback_claim_due()

    assert claim is not None and claim.callback.pk == callback.pk and claim.agent == bob
    callback.refresh_from_db()
    assert callback.state == CallbackState.RINGING_AGENT


def test_a_callback_without_a_department_is_compared_with_its_own_lines_callers_only(
    twilio, line, offering, online_agent, twilio_gateway
):
    from voiceconfig.models import PhoneLine

    callback = accepted_callback(twilio, line, n=1, waited=90)  # nobody free while they waited
    other_line = PhoneLine.objects.create(name="Other", phone_number="+14155550999", config=line.config)
    waiting_call(line=other_line, n=2, waited=300)  # waited longer, but on another line
    online_agent("alice")

    claim = callback_services.callback_claim_due()

    assert claim is not None and claim.callback.pk == callback.pk
    waiting_call(line=line, n=3, waited=400)  # now someone on its own line waited longer: it waits again
    callback_services.callback_release_agent(callback_id=callback.pk, reason="test: back to waiting")
    assert callback_services.callback_claim_due() is None


def test_the_agent_hanging_up_while_the_customer_rings_cancels_them_and_counts_as_not_reached(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line)  # nobody free while they waited
    alice = online_agent("alice")
    call_command("run_due_callbacks")
    agent_leg = sid("CA", 0xB001)
    leg(twilio, callback, "agent", agent_leg, "in-progress")
    callback.refresh_from_db()
    customer_leg = callback.customer_call_sid

    leg(twilio, callback, "agent", agent_leg, "completed", seq=2)

    assert twilio_gateway.end_call.call_args_list[-1].kwargs == {"call_sid": customer_leg}
    callback.refresh_from_db()
    assert callback.state == CallbackState.WAITING and callback.attempts == 1 and callback.agent is None
    assert callback.next_attempt_at > timezone.now() + timedelta(seconds=110)  # the retry delay, like a no-answer
    assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.AVAILABLE
    timeline = " ".join(Call.objects.get(pk=callback.call_id).logs.values_list("message", flat=True))
    assert "Attempt 1: the agent hung up before the customer answered; trying again after 120 s." in timeline

    # The cancelled leg's events (or a customer answering before the cancel landed) complete nothing.
    leg(twilio, callback, "customer", customer_leg, "in-progress")
    leg(twilio, callback, "customer", customer_leg, "completed", seq=2)
    callback.refresh_from_db()
    assert callback.state == CallbackState.WAITING
    assert Call.objects.get(pk=callback.call_id).followed_up_at is None
    assert VoiceAgent.objects.get(pk=alice.pk).status == AgentStatus.AVAILABLE


def test_the_agent_hanging_up_on_the_last_attempt_fails_the_callback(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line)
    online_agent("alice")
    Callback.objects.filter(pk=callback.pk).update(attempts=1)  # max_attempts is 2: this is the last
    call_command("run_due_callbacks")
    leg(twilio, callback, "agent", sid("CA", 0xB001), "in-progress")

    leg(twilio, callback, "agent", sid("CA", 0xB001), "completed", seq=2)

    callback.refresh_from_db()
    assert callback.state == CallbackState.FAILED and callback.attempts == 2


def test_the_agent_hanging_up_while_twilio_is_still_dialling_cancels_the_leg_it_returns(
    twilio, line, offering, online_agent, twilio_gateway, monkeypatch
):
    """The agent's "completed" lands while the request dialling the customer is still out: that leg is cancelled
    as soon as Twilio returns it, and no outbound call row is made for it."""
    from voicetwilio import callbacks as callback_edge

    callback = accepted_callback(twilio, line)
    online_agent("alice")
    call_command("run_due_callbacks")
    agent_leg = sid("CA", 0xB001)
    real_dial = callback_edge.dial_customer

    def agent_hangs_up_meanwhile(request, moved):
        callback_services.callback_agent_left(callback_id=moved.pk, leg_sid=agent_leg)
        return real_dial(request, moved)

    monkeypatch.setattr(callback_edge, "dial_customer", agent_hangs_up_meanwhile)
    leg(twilio, callback, "agent", agent_leg, "in-progress")

    dialled = twilio_gateway.add_participant.call_args_list[-1]
    assert dialled.kwargs["to"] == CUSTOMER
    cancelled = twilio_gateway.end_call.call_args_list[-1].kwargs["call_sid"]
    assert cancelled != agent_leg and not Call.objects.filter(call_sid=cancelled).exists()
    callback.refresh_from_db()
    assert callback.state == CallbackState.WAITING and callback.outbound_call is None


def test_a_stale_hang_up_of_an_earlier_attempts_agent_leaves_the_current_attempt_alone(
    twilio, line, offering, online_agent, twilio_gateway
):
    callback = accepted_callback(twilio, line)
    online_agent("alice")
    call_command("run_due_callbacks")
    leg(twilio, callback, "agent", sid("CA", 0xB002), "in-progress")

    leg(twilio, callback, "agent", sid("CA", 0xB001), "completed", seq=9)  # some other, earlier agent leg

    callback.refresh_from_db()
    assert callback.state == CallbackState.DIALING
    twilio_gateway.end_call.assert_not_called()
