"""The caller's status follows what Twilio says on every webhook, not only on the status callback.

Twilio sends CallStatus=ringing on the first voice request, then in-progress on every request once it has answered
our number (gather action, conference wait music, voicemail, <Dial> and <Record> actions), while a number's status
callback usually reports only `completed`. Those requests carry no SequenceNumber, so they only move the call
forward (decision 5): never back to ringing, never out of an ended state.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from tests.conftest import api_client_for
from tests.console_support import install_fake_gateway, make_available
from tests.twilio.fixtures import TwilioDriver, twiml_of, verbs
from tests.twilio.payloads import sid
from voiceconfig import calls as call_services
from voiceconfig.models import Call, CallEvent, CallLog, CallStage, CallStatus, IvrAction, IvrOption

pytestmark = pytest.mark.django_db

CALLER = "CA" + "c" * 32


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


@pytest.fixture
def menu(line):
    IvrOption.objects.create(config=line.config, digit="1", label="for sales", action=IvrAction.ROUTE)
    IvrOption.objects.create(config=line.config, digit="9", label="to leave a message", action=IvrAction.VOICEMAIL)
    return line


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def status_of(call_sid: str = CALLER) -> str:
    return Call.objects.get(call_sid=call_sid).status


def rows(event: str) -> list[CallLog]:
    return list(CallLog.objects.filter(call_sid=CALLER, event=event).order_by("id"))


def test_a_call_through_greeting_menu_queue_and_agent_is_in_progress_mid_call_and_completed_at_the_end(
    twilio, menu, agent, fake_gateway
):
    make_available(agent)
    console = api_client_for(agent.user)

    twiml_of(twilio.incoming(call_sid=CALLER))  # greeting and menu
    assert status_of() == CallStatus.RINGING  # Twilio's first request: our number rings

    twiml_of(twilio.gather(CALLER, digits="1"))  # sales: queued, alice rung
    assert status_of() == CallStatus.IN_PROGRESS
    twiml_of(twilio.queue_wait(CALLER))
    call = Call.objects.get()
    assert (call.stage, call.agent, call.status) == (CallStage.QUEUED, agent, CallStatus.IN_PROGRESS)

    answered = timezone.now().replace(microsecond=0) + timedelta(seconds=1)
    twilio.leg(CALLER, call.agent_call_sid, "in-progress", agent=agent, seq=2, Timestamp=rfc2822(answered))
    assert console.post(f"/voicetwilio/calls/{call.pk}:onhold", {}, format="json").status_code == 200
    assert console.post(f"/voicetwilio/calls/{call.pk}:resume", {}, format="json").status_code == 200
    transferred = console.post(f"/voicetwilio/calls/{call.pk}:transfer", {"type": "phonenumber", "to": "+14155550123"})
    assert transferred.status_code == 200, transferred.content
    assert status_of() == CallStatus.IN_PROGRESS

    twilio.status(CALLER, "completed", seq=3, timestamp=rfc2822(answered + timedelta(seconds=30)))

    call = Call.objects.get()
    assert call.status == CallStatus.COMPLETED
    # Came in, then an agent answered (Twilio answered in between, on the menu), then it ended.
    assert call.started_at < call.answered_at < call.ended_at
    assert call.talk_seconds == 30
    # Every row written while the caller was talking says so; none says "ringing".
    mid_call = [*rows(CallEvent.IVR_INPUT), *rows(CallEvent.HOLD), *rows(CallEvent.RESUME), *rows(CallEvent.TRANSFER)]
    assert [row.call_status for row in mid_call] == [CallStatus.IN_PROGRESS] * 4
    assert [row.call_status for row in rows(CallEvent.STATUS)] == [CallStatus.COMPLETED]
    assert not CallLog.objects.filter(call_sid=CALLER, call_status=CallStatus.RINGING).exists()


def test_an_agent_answering_a_call_no_webhook_reported_answered_makes_it_in_progress(twilio, line, agent, fake_gateway):
    """No menu, the agent picks up before any wait music was fetched: the caller is in the conference, so answered."""
    make_available(agent)
    twilio.incoming(call_sid=CALLER)
    call = Call.objects.get()
    assert call.status == CallStatus.RINGING
    twilio.leg(CALLER, call.agent_call_sid, "in-progress", agent=agent, seq=2)
    assert status_of() == CallStatus.IN_PROGRESS

    response = api_client_for(agent.user).post(f"/voicetwilio/calls/{call.pk}:onhold", {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == CallStatus.IN_PROGRESS
    assert rows(CallEvent.HOLD)[0].call_status == CallStatus.IN_PROGRESS


def test_the_caller_joining_the_conference_means_twilio_answered(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.conference(CALLER, "participant-join", participant=sid("CA", 0xB0B))  # someone else: tells nothing
    assert status_of() == CallStatus.RINGING
    twilio.conference(CALLER, "participant-join")  # the caller
    assert status_of() == CallStatus.IN_PROGRESS


def test_a_late_ringing_never_overwrites_in_progress(twilio, menu, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.gather(CALLER, digits="1")
    twilio.incoming(call_sid=CALLER, CallStatus="ringing")  # Twilio's first request, retried late
    twilio.queue_wait(CALLER, status="ringing")
    twilio.status(CALLER, "ringing", seq=1)
    assert status_of() == CallStatus.IN_PROGRESS


def test_no_webhook_brings_an_ended_call_back(twilio, menu, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.status(CALLER, "completed", seq=2)
    twilio.gather(CALLER, digits="1")
    twilio.queue_wait(CALLER)
    call = Call.objects.get()
    assert call.status == CallStatus.COMPLETED
    assert call.stage == CallStage.ABANDONED, "a gather arriving after the hang-up does not queue a finished call"
    assert twilio_gateway.add_participant.call_count == 0


def test_a_wait_request_of_another_leg_does_not_change_the_callers_status(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.post(
        "queue-wait",
        "conference_callback",
        query={"callSid": CALLER},
        CallSid=sid("CA", 0xB0B),
        CallStatus="completed",
    )
    assert status_of() == CallStatus.RINGING


def test_a_caller_who_hangs_up_to_end_their_voicemail_is_completed_at_twilios_time(twilio, menu, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    twilio.gather(CALLER, digits="9")  # voicemail
    assert status_of() == CallStatus.IN_PROGRESS

    # The <Record> action comes first (Twilio requests it even after the hang-up), then the status callback.
    twilio.recording(CALLER, CallStatus="completed")
    twilio.recording(CALLER, CallStatus="completed")  # retried: still one row
    call = Call.objects.get()
    assert (call.status, call.voicemail) == (CallStatus.COMPLETED, True)
    twilio.status(CALLER, "completed", seq=4, timestamp="Tue, 14 Jun 2022 18:06:47 +0000")

    call = Call.objects.get()
    assert (call.status, call.stage) == (CallStatus.COMPLETED, CallStage.VOICEMAIL)
    assert call.ended_at == datetime(2022, 6, 14, 18, 6, 47, tzinfo=UTC), "the earliest reported end: Twilio's"
    assert len(rows(CallEvent.STATUS)) == 2  # the action's news and the status callback, once each


def test_a_forwarded_caller_who_hangs_up_is_completed_by_the_dial_action(twilio, line, twilio_gateway):
    line.config.ivr_options.create(digit="3", label="for billing", action=IvrAction.FORWARD, forward_to="+14155550199")
    twilio.incoming(call_sid=CALLER)
    twilio.gather(CALLER, digits="3")
    response = twilio.post(
        "dial-callback",
        "dial_action",
        query={"callSid": CALLER},
        CallSid=CALLER,
        CallStatus="completed",
        DialCallStatus="completed",
    )
    assert verbs(twiml_of(response)) == ["Hangup"]
    call = Call.objects.get()
    assert (call.status, call.stage) == (CallStatus.COMPLETED, CallStage.FORWARDED)


def test_a_forwarded_call_the_number_did_not_answer_stays_in_progress_for_the_apology(twilio, line, twilio_gateway):
    line.config.ivr_options.create(digit="3", label="for billing", action=IvrAction.FORWARD, forward_to="+14155550199")
    twilio.incoming(call_sid=CALLER)
    twilio.gather(CALLER, digits="3")
    twilio.dial_action(CALLER, "no-answer")  # DialCallStatus is the forwarded leg's, not the caller's
    assert status_of() == CallStatus.IN_PROGRESS


def test_the_step_forward_is_safe_against_a_status_callback_that_ended_the_call_meanwhile(twilio, line, twilio_gateway):
    twilio.incoming(call_sid=CALLER)
    seen = Call.objects.get()  # read by a webhook while it was still ringing
    twilio.status(CALLER, "completed", seq=2)  # ...then the caller hung up

    result = call_services.call_note_status(call=seen, status=CallStatus.IN_PROGRESS, source="queue-wait")

    assert result.changed is False
    assert status_of() == CallStatus.COMPLETED


# --- under real concurrency ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_wait_music_requests_racing_the_hang_up_never_revive_the_call(transactional_db, client, line, twilio_gateway):
    """20 wait-music fetches (in-progress) and the completed status callback, all released at once."""
    TwilioDriver(client).incoming(call_sid=CALLER)
    start = threading.Barrier(21)

    def deliver(n: int) -> int:
        try:
            driver = TwilioDriver(Client())
            start.wait()
            if n == 0:
                return driver.status(CALLER, "completed", seq=3).status_code
            return driver.queue_wait(CALLER).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=21) as pool:
        statuses = list(pool.map(deliver, range(21)))

    assert statuses == [200] * 21
    call = Call.objects.get()
    assert (call.status, call.stage) == (CallStatus.COMPLETED, CallStage.ABANDONED)
    assert CallLog.objects.filter(call_sid=CALLER, event=CallEvent.STATUS).count() == 1
