"""Decision 5: a forward-only call state that survives Twilio's late, reordered and repeated callbacks."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from tests.twilio.fixtures import twiml_of, verbs
from voiceconfig.calls import available_agents
from voiceconfig.models import AgentStatus, Call, CallEvent, CallLog, CallStage, CallStatus, VoiceAgent

pytestmark = pytest.mark.django_db

CALLER = "CA" + "c" * 32


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=False)


@pytest.fixture
def ringing_call(twilio, line, online_agent, twilio_gateway):
    """A caller whose call is ringing agent alice (the gateway returned her leg's SID)."""
    agent = online_agent("alice")
    twilio.incoming(call_sid=CALLER)
    call = Call.objects.get(call_sid=CALLER)
    assert call.agent == agent and call.agent_call_sid
    return call


def agent_of(call: Call) -> VoiceAgent:
    return VoiceAgent.objects.get(identity="alice")


# --- the caller's leg ------------------------------------------------------------------------------------


def test_status_only_moves_forward(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.status(CALLER, "in-progress", seq=1)
    twilio.status(CALLER, "ringing", seq=2)  # late, even with a higher number: never back to ringing
    assert Call.objects.get().status == CallStatus.IN_PROGRESS


def test_a_terminal_status_sticks(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.status(CALLER, "completed", seq=3)
    twilio.status(CALLER, "in-progress", seq=1)
    twilio.status(CALLER, "failed")
    call = Call.objects.get()
    assert call.status == CallStatus.COMPLETED
    assert call.last_sequence_number == 3
    assert call.logs.filter(event=CallEvent.STATUS).count() == 3


def test_an_event_older_than_the_highest_sequence_number_applied_changes_nothing(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    Call.objects.filter(call_sid=CALLER).update(status=CallStatus.RINGING, last_sequence_number=7)
    twilio.status(CALLER, "in-progress", seq=3)
    assert Call.objects.get().status == CallStatus.RINGING


def test_a_duplicate_callback_logs_once_and_changes_nothing(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    first = twilio.status(CALLER, "completed", seq=2)
    ended_at = Call.objects.get().ended_at
    second = twilio.status(CALLER, "completed", seq=2)
    assert first.status_code == second.status_code == 200
    assert Call.objects.get().ended_at == ended_at
    assert CallLog.objects.filter(call_sid=CALLER, event=CallEvent.STATUS).count() == 1


def test_an_unknown_call_sid_is_answered_200_and_recorded_once(twilio, db):
    unknown = "CA" + "e" * 32
    assert verbs(twiml_of(twilio.status(unknown, "completed", seq=4))) == []
    twilio.status(unknown, "completed", seq=4)
    log = CallLog.objects.get()
    assert (log.event, log.call, log.call_sid, log.call_status) == (CallEvent.UNKNOWN_CALL, None, unknown, "completed")
    assert log.data["CallSid"] == unknown


def test_the_end_time_is_twilios_timestamp(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.status(CALLER, "completed", seq=2, timestamp="Tue, 14 Jun 2022 18:06:47 +0000")
    assert Call.objects.get().ended_at == datetime(2022, 6, 14, 18, 6, 47, tzinfo=UTC)


def test_a_caller_who_hangs_up_while_waiting_is_recorded_as_abandoned(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.status(CALLER, "completed", seq=2)
    call = Call.objects.get()
    assert (call.status, call.stage) == (CallStatus.COMPLETED, CallStage.ABANDONED)


# --- the agent's leg -------------------------------------------------------------------------------------


def test_agent_answering_puts_them_in_the_call(twilio, ringing_call):
    agent = agent_of(ringing_call)
    answered = timezone.now().replace(microsecond=0) + timedelta(seconds=5)
    twilio.leg(CALLER, ringing_call.agent_call_sid, "in-progress", agent=agent, seq=2, Timestamp=rfc2822(answered))
    call = Call.objects.get()
    agent.refresh_from_db()
    assert agent.status == AgentStatus.IN_CALL
    assert (call.stage, call.answered_at) == (CallStage.CONNECTED, answered)
    assert call.wait_seconds >= 4


def test_the_agent_wraps_up_after_the_call_then_counts_as_available(twilio, ringing_call):
    agent = agent_of(ringing_call)
    line = ringing_call.phone_line
    line.config.wrap_up_seconds = 30
    line.config.save()
    twilio.leg(CALLER, ringing_call.agent_call_sid, "in-progress", agent=agent, seq=2)
    before = timezone.now()
    twilio.status(CALLER, "completed", seq=3)
    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP
    assert before + timedelta(seconds=29) <= agent.wrap_up_until <= timezone.now() + timedelta(seconds=30)
    assert agent.last_call_ended_at >= before
    assert agent not in available_agents(line=line)
    VoiceAgent.objects.filter(pk=agent.pk).update(wrap_up_until=timezone.now() - timedelta(seconds=1))
    assert agent in available_agents(line=line)


def test_caller_hanging_up_while_the_agent_rings_frees_the_agent_and_cancels_their_leg(
    twilio, ringing_call, twilio_gateway
):
    agent = agent_of(ringing_call)
    twilio.status(CALLER, "completed", seq=2)
    agent.refresh_from_db()
    call = Call.objects.get()
    assert agent.status == AgentStatus.AVAILABLE
    assert call.agent is None and call.stage == CallStage.ABANDONED
    twilio_gateway.end_call.assert_called_once_with(call_sid=ringing_call.agent_call_sid)


def test_an_answer_reported_after_the_hang_up_still_makes_it_the_agents_call(twilio, ringing_call, twilio_gateway):
    agent = agent_of(ringing_call)
    twilio.status(CALLER, "completed", seq=2)
    twilio.leg(CALLER, ringing_call.agent_call_sid, "in-progress", agent=agent, seq=2)
    call = Call.objects.get()
    agent.refresh_from_db()
    assert call.agent == agent and call.stage == CallStage.CONNECTED
    assert agent.status == AgentStatus.WRAP_UP
    twilio_gateway.end_call.assert_called_with(call_sid=ringing_call.agent_call_sid)


def test_events_of_a_leg_that_is_not_the_calls_agent_leg_are_only_logged(twilio, ringing_call):
    other_leg = "CA" + "9" * 32
    twilio.leg(CALLER, other_leg, "no-answer", seq=3)
    call = Call.objects.get()
    assert call.agent == agent_of(ringing_call)
    assert call.logs.get(dedupe_key__startswith=f"leg:{other_leg}").message.startswith("Not the call's current")


def test_a_leg_callback_for_an_unknown_call_is_recorded(twilio, db):
    twilio.leg("CA" + "e" * 32, "CA" + "9" * 32, "ringing")
    assert CallLog.objects.get().event == CallEvent.UNKNOWN_CALL


# --- conference and recordings ---------------------------------------------------------------------------


@pytest.mark.parametrize("callback", ["conference", "recording"])
def test_a_conference_event_or_recording_for_an_unknown_call_is_answered_200_and_recorded_once(twilio, db, callback):
    unknown = "CA" + "e" * 32
    send = {
        "conference": lambda: twilio.conference(unknown, "participant-join"),
        "recording": lambda: twilio.recording(unknown),
    }
    assert send[callback]().status_code == 200
    assert send[callback]().status_code == 200
    log = CallLog.objects.get()
    assert (log.event, log.call, log.call_sid) == (CallEvent.UNKNOWN_CALL, None, unknown)
    assert not Call.objects.exists()


def test_the_first_conference_event_tells_us_the_conference_sid(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    Call.objects.filter(call_sid=CALLER).update(conference_sid="")
    twilio.conference(CALLER, "conference-start", ConferenceSid="CF" + "7" * 32)
    twilio.conference(CALLER, "conference-start", ConferenceSid="CF" + "7" * 32)
    call = Call.objects.get()
    assert call.conference_sid == "CF" + "7" * 32
    assert call.logs.filter(event=CallEvent.CONFERENCE).count() == 1


def test_a_voicemail_is_kept_on_the_call(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    root = twiml_of(twilio.recording(CALLER, RecordingDuration=17))
    assert verbs(root) == ["Say", "Hangup"]
    call = Call.objects.get()
    assert call.voicemail and call.recording_duration == 17
    assert call.recording_url.endswith("/Recordings/RE0123456789abcdef0123456789abcdef")
    assert call.logs.get(event=CallEvent.VOICEMAIL).call_status == "completed"


def test_an_empty_recording_is_not_a_voicemail(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.recording(CALLER, RecordingDuration=0)
    call = Call.objects.get()
    assert not call.voicemail and call.recording_url == ""


# --- the shuffle test ------------------------------------------------------------------------------------


def answered_call_events(call: Call, agent: VoiceAgent, start: datetime) -> list[tuple]:
    """Every callback Twilio sends for a call that an agent answered, then the caller hung up."""
    leg = call.agent_call_sid
    t = [rfc2822(start + timedelta(seconds=n)) for n in range(8)]
    conference = {"ConferenceSid": "CF" + "5" * 32}
    return [
        ("status", dict(status="ringing", seq=0, timestamp=t[0])),
        ("status", dict(status="in-progress", seq=1, timestamp=t[1])),
        ("status", dict(status="completed", seq=2, timestamp=t[7], CallDuration=7)),
        ("leg", dict(leg_sid=leg, status="initiated", seq=0, Timestamp=t[1])),
        ("leg", dict(leg_sid=leg, status="ringing", seq=1, Timestamp=t[2])),
        ("leg", dict(leg_sid=leg, status="in-progress", seq=2, Timestamp=t[3])),
        ("leg", dict(leg_sid=leg, status="completed", seq=3, Timestamp=t[6], CallDuration=3)),
        ("conference", dict(event="participant-join", seq=1, **conference)),
        ("conference", dict(event="conference-start", seq=2, participant=leg, **conference)),
        ("conference", dict(event="participant-join", seq=3, participant=leg, **conference)),
        ("conference", dict(event="participant-leave", seq=4, participant=leg, **conference)),
        ("conference", dict(event="conference-end", seq=5, participant=leg, **conference)),
        ("recording", dict(kind="call", RecordingStatus="completed", RecordingDuration=3)),
    ]


def unanswered_call_events(call: Call, agent: VoiceAgent, start: datetime) -> list[tuple]:
    """The agent let it ring out; the caller gave up waiting."""
    leg = call.agent_call_sid
    t = [rfc2822(start + timedelta(seconds=n)) for n in range(40)]
    return [
        ("status", dict(status="in-progress", seq=1, timestamp=t[0])),
        ("leg", dict(leg_sid=leg, status="initiated", seq=0, Timestamp=t[1])),
        ("leg", dict(leg_sid=leg, status="ringing", seq=1, Timestamp=t[2])),
        ("leg", dict(leg_sid=leg, status="no-answer", seq=2, Timestamp=t[25])),
        ("status", dict(status="completed", seq=2, timestamp=t[39])),
    ]


def deliver(twilio, agent: VoiceAgent, kind: str, fields: dict) -> None:
    fields = dict(fields)
    if kind == "status":
        response = twilio.status(
            CALLER, fields.pop("status"), seq=fields.pop("seq"), timestamp=fields.pop("timestamp"), **fields
        )
    elif kind == "leg":
        response = twilio.leg(
            CALLER, fields.pop("leg_sid"), fields.pop("status"), agent=agent, seq=fields.pop("seq"), **fields
        )
    elif kind == "conference":
        response = twilio.conference(CALLER, fields.pop("event"), **fields)
    else:
        response = twilio.recording(CALLER, **fields)
    assert response.status_code == 200


def final_state(call_sid: str) -> dict:
    call = Call.objects.get(call_sid=call_sid)
    agent = VoiceAgent.objects.get(identity="alice")
    return {
        "call": {
            field: getattr(call, field)
            for field in (
                "status",
                "stage",
                "agent_id",
                "agent_call_sid",
                "answered_at",
                "ended_at",
                "wait_seconds",
                "talk_seconds",
                "last_sequence_number",
                "conference_sid",
                "recording_url",
                "voicemail",
            )
        },
        "agent_status": agent.status,
        "logs": sorted(
            (log.event, log.call_status, -1 if log.sequence_number is None else log.sequence_number)
            for log in CallLog.objects.filter(call_sid=call_sid)
        ),
    }


@pytest.mark.parametrize("scenario", [answered_call_events, unanswered_call_events])
@pytest.mark.parametrize("seed", range(12))
def test_any_order_of_duplicated_callbacks_gives_the_same_state_and_log(twilio, ringing_call, scenario, seed):
    agent = agent_of(ringing_call)
    # Callbacks carry times after the caller was queued, as Twilio's would.
    start = timezone.now().replace(microsecond=0) + timedelta(seconds=2)
    events = scenario(ringing_call, agent, start)
    expected = expected_final_state(scenario, start, ringing_call, agent)

    expected_logs = sorted([*expected_logs_of(events), ("routing", "", -1)])  # + "ringing alice" from routing
    shuffled = events * 2  # every callback delivered twice
    random.Random(seed).shuffle(shuffled)
    for kind, fields in shuffled:
        deliver(twilio, agent, kind, fields)

    state = final_state(CALLER)
    for field, value in expected.items():
        assert state["call"][field] == value, field
    assert state["agent_status"] == (AgentStatus.WRAP_UP if scenario is answered_call_events else AgentStatus.AVAILABLE)
    # Every distinct callback is exactly one log row, whatever the order.
    assert state["logs"] == expected_logs


def expected_logs_of(events: list[tuple]) -> list[tuple]:
    rows = []
    for kind, fields in events:
        if kind == "status":
            rows.append(("status", fields["status"], fields["seq"]))
        elif kind == "leg":
            rows.append(("agent", fields["status"], fields["seq"]))
        elif kind == "conference":
            rows.append(("conference", "", fields["seq"]))
        else:
            rows.append(("recording", "completed", -1))
    return rows


def expected_final_state(scenario, start: datetime, call: Call, agent: VoiceAgent) -> dict:
    """What in-order delivery gives: derived from the scenario's own timestamps."""
    queued_at = call.queued_at
    if scenario is answered_call_events:
        answered, ended = start + timedelta(seconds=3), start + timedelta(seconds=7)
        return {
            "status": CallStatus.COMPLETED,
            "stage": CallStage.CONNECTED,
            "agent_id": agent.pk,
            "agent_call_sid": call.agent_call_sid,
            "answered_at": answered,
            "ended_at": ended,
            "wait_seconds": int((answered - queued_at).total_seconds()),
            "talk_seconds": 4,
            "last_sequence_number": 2,
            "conference_sid": call.conference_sid,
            "recording_url": "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001"
            "/Recordings/RE0123456789abcdef0123456789abcdef",
            "voicemail": False,
        }
    ended = start + timedelta(seconds=39)
    return {
        "status": CallStatus.COMPLETED,
        "stage": CallStage.ABANDONED,
        "agent_id": None,
        "agent_call_sid": "",
        "answered_at": None,
        "ended_at": ended,
        "wait_seconds": int((ended - queued_at).total_seconds()),
        "talk_seconds": 0,
        "last_sequence_number": 2,
        "conference_sid": call.conference_sid,
        "recording_url": "",
        "voicemail": False,
    }


def test_a_transfer_that_rings_out_frees_the_receiving_agent_without_routing_again(
    twilio, ringing_call, online_agent, twilio_gateway
):
    alice = agent_of(ringing_call)
    twilio.leg(CALLER, ringing_call.agent_call_sid, "in-progress", agent=alice, seq=2)
    bob = online_agent("bob", status=AgentStatus.RINGING)
    transfer_leg = "CA" + "7" * 32
    # As call control leaves it after ringing bob for a transfer: bob is the call's agent, his leg the current one.
    Call.objects.filter(call_sid=CALLER).update(agent=bob, agent_call_sid=transfer_leg)
    twilio.leg(CALLER, transfer_leg, "no-answer", agent=bob, seq=2)
    call = Call.objects.get()
    bob.refresh_from_db()
    assert bob.status == AgentStatus.AVAILABLE
    assert call.agent is None and call.agent_call_sid == ""
    assert "did not answer the transfer" in call.logs.get(dedupe_key__startswith=f"leg:{transfer_leg}").message
    assert twilio_gateway.add_participant.call_count == 1  # nobody else rung by routing
