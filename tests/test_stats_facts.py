"""The statistics' facts are stored by the call package as things happen (issue 17, docs/statistics.md):
offered / abandoned / wrap-up at the end (the SQL status statement and the ORM path alike), missed rings, staffed
sessions from heartbeats, after hours, transfers."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from voiceconfig.calls import status as status_machine
from voiceconfig.calls.presence import agent_record_heartbeat, agent_set_status
from voiceconfig.calls.transfers import transfer_note_leg
from voiceconfig.models import (
    AgentSession,
    AgentStatus,
    BusinessHours,
    Call,
    CallStage,
    MissedRing,
    Transfer,
    TransferState,
    VoiceAgent,
)

pytestmark = pytest.mark.django_db


def answered_call(twilio, online_agent, name="alice") -> Call:
    online_agent(name)
    twilio.incoming()
    call = Call.objects.select_related("agent").get()
    twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=call.agent, seq=2)
    return call


def facts(call: Call) -> tuple:
    call.refresh_from_db()
    return (call.offered, call.abandoned, call.wrap_up_seconds, call.after_hours, call.transferred)


def test_an_answered_call_that_ends_is_offered_not_abandoned_with_the_configs_wrap_up(
    twilio, line, online_agent, twilio_gateway
):
    line.config.wrap_up_seconds = 45
    line.config.save()
    call = answered_call(twilio, online_agent)
    assert facts(call) == (False, False, 0, False, False)  # nothing is decided before the end
    twilio.status(call.call_sid, "completed", seq=3)
    assert facts(call) == (True, False, 45, False, False)


def test_the_orm_path_stores_the_same_facts(twilio, line, online_agent, twilio_gateway):
    line.config.wrap_up_seconds = 45
    line.config.save()
    call = answered_call(twilio, online_agent)
    status_machine._apply_status_orm(
        call_sid=call.call_sid, status="completed", sequence_number=3, timestamp=None, data={}
    )
    assert facts(call) == (True, False, 45, False, False)


@pytest.mark.parametrize("path", ["webhook", "orm"])
def test_a_caller_who_hangs_up_while_waiting_abandoned(twilio, line, twilio_gateway, path):
    twilio.incoming()  # nobody online: waits
    call = Call.objects.get()
    assert call.stage == CallStage.QUEUED
    if path == "webhook":
        twilio.status(call.call_sid, "completed", seq=3)
    else:
        status_machine._apply_status_orm(
            call_sid=call.call_sid, status="completed", sequence_number=3, timestamp=None, data={}
        )
    assert facts(call) == (True, True, 0, False, False)


def test_an_outbound_call_is_never_offered(twilio, line, twilio_gateway):
    twilio.incoming()
    call = Call.objects.get()
    Call.objects.filter(pk=call.pk).update(direction="outbound-api")
    twilio.status(call.call_sid, "completed", seq=3)
    assert facts(call) == (False, False, 0, False, False)


def test_an_agent_who_lets_it_ring_out_has_a_missed_ring(twilio, line, online_agent, twilio_gateway):
    online_agent("alice")
    twilio.incoming()
    call = Call.objects.select_related("agent").get()
    alice = call.agent
    twilio.leg(call.call_sid, call.agent_call_sid, "no-answer", agent=alice, seq=2)
    assert list(MissedRing.objects.values_list("agent_id", "call_id")) == [(alice.pk, call.pk)]
    # A caller hanging up while the agent rings is the caller's abandon, not the agent's miss.
    MissedRing.objects.all().delete()
    online_agent("bob")
    twilio.incoming()
    second = Call.objects.exclude(pk=call.pk).get()
    twilio.status(second.call_sid, "completed", seq=3)
    assert not MissedRing.objects.exists()


def test_heartbeats_make_sessions_of_staffed_time(agent, settings):
    settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS = 90
    t0 = timezone.now() - timedelta(hours=2)
    for seconds in (0, 30, 60, 90):
        agent_record_heartbeat(agent=agent, now=t0 + timedelta(seconds=seconds))
    # The console closed for ten minutes, then came back.
    for seconds in (690, 720):
        agent_record_heartbeat(agent=agent, now=t0 + timedelta(seconds=seconds))
    sessions = [(s.started_at - t0, s.ended_at - t0) for s in AgentSession.objects.order_by("started_at")]
    assert sessions == [
        (timedelta(0), timedelta(seconds=90)),
        (timedelta(seconds=690), timedelta(seconds=720)),
    ]


def test_leaving_wrap_up_early_cuts_the_calls_wrap_up(twilio, line, online_agent, twilio_gateway):
    line.config.wrap_up_seconds = 120
    line.config.save()
    call = answered_call(twilio, online_agent)
    twilio.status(call.call_sid, "completed", seq=3)
    agent = VoiceAgent.objects.get()
    assert agent.status == AgentStatus.WRAP_UP
    # 30 s into the wrap-up the agent says they are ready.
    VoiceAgent.objects.filter(pk=agent.pk).update(last_call_ended_at=timezone.now() - timedelta(seconds=30))
    agent.refresh_from_db()
    agent_set_status(agent=agent, status=AgentStatus.AVAILABLE)
    assert facts(call)[2] == 30


def test_a_call_to_a_closed_line_is_after_hours(twilio, line):
    today = timezone.localtime().weekday()
    # Open a minute a day, three days from now: closed now.
    BusinessHours.objects.create(config=line.config, weekday=(today + 3) % 7, opens_at=time(3, 0), closes_at=time(3, 1))
    twilio.incoming()
    twilio.incoming(call_sid=Call.objects.get().call_sid)  # Twilio asks again: still one fact, one log row
    call = Call.objects.get()
    assert facts(call)[3] is True
    assert call.logs.filter(dedupe_key="after-hours").count() == 1


def test_a_transfer_the_new_party_takes_marks_the_call_transferred(twilio, line, online_agent, twilio_gateway):
    call = answered_call(twilio, online_agent)
    row = Transfer.objects.create(call=call, step=1, target_type="phonenumber", target="+14155550199")
    transfer_note_leg(transfer_id=row.pk, call=call, leg_sid="CA" + "9" * 32, status="ringing", moment=None)
    assert facts(call)[4] is False
    transfer_note_leg(transfer_id=row.pk, call=call, leg_sid="CA" + "9" * 32, status="in-progress", moment=None)
    assert facts(call)[4] is True
    assert Transfer.objects.get().state == TransferState.CONNECTED
