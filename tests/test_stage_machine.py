"""The stage is a forward-only state machine (issue 11 item 4, decision 5): one table, every (stage, event) pair.

A replayed or late webhook (a captured, correctly signed request posted again) finds the call past that point:
it changes nothing and rings nobody.
"""

import pytest
from django.utils import timezone

from tests.conftest import call_sid
from tests.twilio.fixtures import twiml_of, verbs
from voiceconfig.calls import StageEvent, call_move_stage
from voiceconfig.models import AgentStatus, Call, CallStage, CallStatus, IvrAction, IvrOption

S, E = CallStage, StageEvent
# Written out by hand from the flow's rules, not read from the table it checks: (stage, event) -> new stage.
# Every pair not listed must change nothing.
ALLOWED = {
    (S.NEW, E.MENU): S.IVR,
    (S.IVR, E.MENU): S.IVR,
    (S.IVR, E.CHOICE): S.IVR,
    (S.NEW, E.ENQUEUE): S.QUEUED,
    (S.IVR, E.ENQUEUE): S.QUEUED,
    (S.NEW, E.ANSWER): S.CONNECTED,
    (S.IVR, E.ANSWER): S.CONNECTED,
    (S.QUEUED, E.ANSWER): S.CONNECTED,
    (S.ABANDONED, E.ANSWER): S.CONNECTED,
    (S.NEW, E.VOICEMAIL): S.VOICEMAIL,
    (S.IVR, E.VOICEMAIL): S.VOICEMAIL,
    (S.QUEUED, E.VOICEMAIL): S.VOICEMAIL,
    (S.NEW, E.MESSAGE): S.MESSAGE,
    (S.IVR, E.MESSAGE): S.MESSAGE,
    (S.QUEUED, E.MESSAGE): S.MESSAGE,
    (S.NEW, E.FORWARD): S.FORWARDED,
    (S.IVR, E.FORWARD): S.FORWARDED,
    (S.QUEUED, E.FORWARD): S.FORWARDED,  # issue 16: a department whose no-agents action forwards
    (S.NEW, E.FALLBACK): S.VOICEMAIL,
    (S.IVR, E.FALLBACK): S.VOICEMAIL,
    (S.QUEUED, E.FALLBACK): S.VOICEMAIL,
    (S.NEW, E.HANG_UP): S.ABANDONED,
    (S.IVR, E.HANG_UP): S.ABANDONED,
    (S.QUEUED, E.HANG_UP): S.ABANDONED,
    (S.CONNECTED, E.REQUEUE): S.QUEUED,
    (S.VOICEMAIL, E.BACK_TO_QUEUE): S.QUEUED,
    (S.MESSAGE, E.BACK_TO_QUEUE): S.QUEUED,
}
PAIRS = [(stage, event) for stage in CallStage.values for event in StageEvent.ALL]


def a_call(stage: str, status: str = CallStatus.IN_PROGRESS) -> Call:
    return Call.objects.create(call_sid=call_sid(7), stage=stage, status=status)


@pytest.mark.parametrize(("stage", "event"), PAIRS)
def test_each_event_moves_a_live_call_only_where_the_table_allows(db, stage, event):
    call = a_call(stage)

    moved = call_move_stage(call=call, event=event)

    expected = ALLOWED.get((stage, event), stage)
    assert Call.objects.get(pk=call.pk).stage == expected
    assert call.stage == expected
    assert moved is ((stage, event) in ALLOWED)


@pytest.mark.parametrize(("stage", "event"), PAIRS)
def test_an_ended_call_moves_only_for_facts_about_its_past(db, stage, event):
    call = a_call(stage, status=CallStatus.COMPLETED)

    call_move_stage(call=call, event=event)

    # An agent's answer and the caller's hang-up may be reported after the end; nothing else moves a dead call.
    late_facts = {E.ANSWER, E.HANG_UP}
    expected = ALLOWED.get((stage, event), stage) if event in late_facts else stage
    assert Call.objects.get(pk=call.pk).stage == expected


def test_a_move_raced_by_another_request_is_applied_once(db):
    call = a_call(S.IVR)
    stale_copy = Call.objects.get(pk=call.pk)

    assert call_move_stage(call=call, event=E.ENQUEUE) is True
    # The other request read the call before our move: its WHERE finds the call queued, and changes nothing.
    assert call_move_stage(call=stale_copy, event=E.MENU) is False
    assert Call.objects.get(pk=call.pk).stage == S.QUEUED


# --- replayed webhooks, end to end ----------------------------------------------------------------------------


@pytest.fixture
def menu(line):
    IvrOption.objects.create(config=line.config, digit="1", label="for sales", action=IvrAction.ROUTE)
    IvrOption.objects.create(config=line.config, digit="2", label="to leave a message", action=IvrAction.VOICEMAIL)
    return line


@pytest.fixture
def free_agent_and_waiting_caller(online_agent, menu, twilio_gateway):
    """Someone a wrong routing attempt would ring: a free agent, and a caller waiting whom they could take."""
    Call.objects.create(
        call_sid=call_sid(900), phone_line=menu, stage=S.QUEUED, status=CallStatus.IN_PROGRESS, queued_at=timezone.now()
    )
    online_agent("zoe")
    # Created with an agent free, the waiting caller would have been matched already: only now is she free.
    return twilio_gateway


def call_at(stage: str, *, line, agent=None) -> Call:
    now = timezone.now()
    return Call.objects.create(
        call_sid=call_sid(1),
        phone_line=line,
        stage=stage,
        status=CallStatus.IN_PROGRESS,
        agent=agent,
        agent_call_sid=call_sid(2) if agent else "",
        queued_at=now if stage in (S.QUEUED, S.CONNECTED) else None,
        answered_at=now if stage == S.CONNECTED else None,
        ivr_attempts=1,
    )


REPLAYS = {
    "voice": lambda twilio, sid: twilio.incoming(call_sid=sid, CallStatus="in-progress"),
    "gather (route)": lambda twilio, sid: twilio.gather(sid, digits="1", CallStatus="in-progress"),
    "gather (voicemail)": lambda twilio, sid: twilio.gather(sid, digits="2", CallStatus="in-progress"),
    "gather (nothing)": lambda twilio, sid: twilio.gather(sid, digits="", CallStatus="in-progress"),
    "queue wait": lambda twilio, sid: twilio.queue_wait(sid),
    "voicemail": lambda twilio, sid: twilio.voicemail(sid),
    "dial": lambda twilio, sid: twilio.dial_action(sid, "completed"),
    "conference": lambda twilio, sid: twilio.conference(sid, "participant-join", participant=sid),
    "recording": lambda twilio, sid: twilio.recording(sid, kind="call", RecordingStatus="completed"),
}
PAST_THE_MENU = [S.CONNECTED, S.VOICEMAIL, S.MESSAGE, S.FORWARDED]


@pytest.mark.parametrize("stage", PAST_THE_MENU)
@pytest.mark.parametrize("webhook", list(REPLAYS))
def test_a_replayed_webhook_changes_nothing_and_rings_nobody(
    twilio, free_agent_and_waiting_caller, make_agent, menu, stage, webhook
):
    agent = make_agent("ann") if stage == S.CONNECTED else None
    if agent:
        agent.status = AgentStatus.IN_CALL
        agent.save(update_fields=["status"])
    call = call_at(stage, line=menu, agent=agent)

    response = REPLAYS[webhook](twilio, call.call_sid)

    assert response.status_code == 200
    twiml_of(response)  # valid TwiML, whatever the replay
    call.refresh_from_db()
    assert (call.stage, call.agent, call.status) == (stage, agent, CallStatus.IN_PROGRESS)
    free_agent_and_waiting_caller.add_participant.assert_not_called()
    free_agent_and_waiting_caller.redirect_call.assert_not_called()


def test_replaying_a_signed_gather_for_a_connected_call_keeps_it_connected(twilio, menu, make_agent, twilio_gateway):
    # Reproduced first (issue 11): this request moved the call back to `queued`; the overview listed it waiting.
    agent = make_agent("ann")
    call = call_at(S.CONNECTED, line=menu, agent=agent)

    answer = twiml_of(twilio.gather(call.call_sid, digits="1", CallStatus="in-progress"))

    assert Call.objects.get(pk=call.pk).stage == S.CONNECTED
    assert verbs(answer)[0] == "Dial"  # back into its own conference, where the agent is
    twilio_gateway.add_participant.assert_not_called()


def test_replaying_a_gather_for_a_caller_in_voicemail_rings_nobody(twilio, free_agent_and_waiting_caller, menu):
    call = call_at(S.IVR, line=menu)
    assert verbs(twiml_of(twilio.gather(call.call_sid, digits="2", CallStatus="in-progress")))[-1] != "Dial"
    assert Call.objects.get(pk=call.pk).stage == S.VOICEMAIL

    replay = twiml_of(twilio.gather(call.call_sid, digits="1", CallStatus="in-progress"))

    assert Call.objects.get(pk=call.pk).stage == S.VOICEMAIL
    assert "Record" in verbs(replay)  # still the voicemail it was sent to
    free_agent_and_waiting_caller.add_participant.assert_not_called()
