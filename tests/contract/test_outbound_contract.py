"""Issue 19's REST requests to Twilio, through twilio-python, against Twilio's API contract (Prism).

Click-to-dial: the customer dialled into the agent's conference with the line's number as caller ID. Callbacks:
the agent rung first, then the customer, each leg reporting to its callback URL.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tests.twilio.fixtures import TwilioDriver
from tests.twilio.payloads import sid
from voiceconfig.calls import callbacks as callback_services
from voiceconfig.models import Call, Callback, CallbackState, CallStage, CallStatus
from voicetwilio import callbacks as callback_edge

AGENT_LEG = sid("CA", 0xD1A1)
RETRIES = "#rc=5&rp=ct,rt,5xx&tt=15000"


def participants_path(conference: str) -> str:
    return f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Conferences/{conference}/Participants.json"


def only_exchange(mock):
    assert len(mock.exchanges) == 1, [(e.method, e.path) for e in mock.exchanges]
    exchange = mock.exchanges[0]
    assert exchange.status < 400, f"Twilio's contract rejected the request ({exchange.status}): {exchange.answer}"
    return exchange


def test_click_to_dial_calls_the_customer_with_the_lines_caller_id(twilio_mock, client, online_agent, line):
    alice = online_agent("alice")
    line.agents.add(alice)

    TwilioDriver(client).post(
        "voice", "voice", CallSid=AGENT_LEG, From="client:alice", Caller="client:alice", To="+14155550142"
    )

    exchange = only_exchange(twilio_mock)
    assert exchange.path == participants_path(f"call-{AGENT_LEG}")
    assert exchange.params() == {
        "From": line.phone_number,
        "To": "+14155550142",
        "Timeout": "30",
        "StatusCallback": f"http://testserver/voicetwilio/outboundstatus?agentLeg={AGENT_LEG}{RETRIES}",
        "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "EarlyMedia": "true",
        "Beep": "false",
        "EndConferenceOnExit": "true",
        "Label": "caller",
    }
    assert Call.objects.get(agent_call_sid=AGENT_LEG).call_sid.startswith("CA")


def test_a_callback_rings_the_agent_then_dials_the_customer_from_the_line(twilio_mock, client, online_agent, line):
    call = Call.objects.create(
        call_sid=sid("CA", 1),
        from_number="+14155550188",
        phone_line=line,
        status=CallStatus.COMPLETED,
        stage=CallStage.MESSAGE,
    )
    callback = Callback.objects.create(
        call=call,
        phone_line=line,
        customer_number=call.from_number,
        state=CallbackState.WAITING,
        queued_at=timezone.now(),
        next_attempt_at=timezone.now(),
    )
    online_agent("alice")

    assert callback_edge.ring_due_callbacks() == 1
    ring = only_exchange(twilio_mock)
    assert ring.path == participants_path(f"callback-{callback.pk}-1")
    assert ring.params()["To"] == "client:alice" and ring.params()["From"] == line.phone_number
    assert ring.params()["StatusCallback"] == (
        f"http://127.0.0.1:8000/voicetwilio/callbackleg?callback={callback.pk}&leg=agent{RETRIES}"
    )

    twilio_mock.clear()
    answered = callback_services.callback_agent_answered(callback_id=callback.pk, leg_sid=sid("CA", 0xB001))
    callback_edge.dial_customer(None, answered)
    dial = only_exchange(twilio_mock)
    assert dial.path == participants_path(f"callback-{callback.pk}-1")
    assert dial.params()["To"] == "+14155550188" and dial.params()["From"] == line.phone_number
    assert dial.params()["EndConferenceOnExit"] == "true"
    assert "leg=customer" in dial.params()["StatusCallback"]


def calls_path(call_sid: str, tail: str = "") -> str:
    return f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Calls/{call_sid}{tail}.json"


def test_a_customer_who_never_answers_hangs_up_the_agents_lone_leg(twilio_mock, client, online_agent, line):
    line.agents.add(online_agent("alice"))
    driver = TwilioDriver(client)
    driver.post("voice", "voice", CallSid=AGENT_LEG, From="client:alice", Caller="client:alice", To="+14155550142")
    customer = Call.objects.get(agent_call_sid=AGENT_LEG).call_sid
    twilio_mock.clear()

    driver.post(
        "outbound-status",
        "status_callback",
        query={"agentLeg": AGENT_LEG},
        CallSid=customer,
        CallStatus="no-answer",
        SequenceNumber=3,
    )

    hang_up = only_exchange(twilio_mock)
    assert (hang_up.method, hang_up.path, hang_up.params()) == ("POST", calls_path(AGENT_LEG), {"Status": "completed"})


def test_an_always_line_records_the_customers_leg_once_they_answer(twilio_mock, client, online_agent, line, config):
    config.recording_policy = "always"
    config.save()
    line.agents.add(online_agent("alice"))
    driver = TwilioDriver(client)
    driver.post("voice", "voice", CallSid=AGENT_LEG, From="client:alice", Caller="client:alice", To="+14155550142")
    customer = Call.objects.get(agent_call_sid=AGENT_LEG).call_sid
    twilio_mock.clear()

    driver.post(
        "outbound-status",
        "status_callback",
        query={"agentLeg": AGENT_LEG},
        CallSid=customer,
        CallStatus="in-progress",
        SequenceNumber=2,
    )

    # First the consent an inbound caller hears, announced to the customer in the conference; then the recording.
    assert len(twilio_mock.exchanges) == 2, [(e.method, e.path) for e in twilio_mock.exchanges]
    announce, record = twilio_mock.exchanges
    assert announce.status < 400 and record.status < 400, (announce.answer, record.answer)
    call = Call.objects.get(call_sid=customer)
    assert (announce.method, announce.path) == (
        "POST",
        participants_path(call.conference_sid)[:-5] + f"/{customer}.json",
    )
    assert announce.params() == {
        "AnnounceUrl": f"http://testserver/voicetwilio/recordingconsent?callSid={customer}",
        "AnnounceMethod": "POST",
    }
    assert record.path == calls_path(customer, "/Recordings")
    assert record.params()["RecordingChannels"] == "dual"
    assert "/voicetwilio/recordingcallback?" in record.params()["RecordingStatusCallback"]


def test_a_caller_who_waited_long_enough_is_redirected_to_the_offer(twilio_mock, client, line, config):
    config.callback_offer_after_seconds = 60
    config.save()
    call = Call.objects.create(
        call_sid=sid("CA", 2),
        from_number="+14155550188",
        to_number=line.phone_number,
        phone_line=line,
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.QUEUED,
        conference_name=f"call-{sid('CA', 2)}",
        queued_at=timezone.now() - timedelta(seconds=90),
    )

    TwilioDriver(client).queue_wait(call.call_sid)

    redirect = only_exchange(twilio_mock)
    assert redirect.path == calls_path(call.call_sid)
    assert redirect.params() == {
        "Url": f"http://testserver/voicetwilio/callbackoffer?callSid={call.call_sid}",
        "Method": "POST",
    }


def test_the_agent_hanging_up_before_the_customer_answers_cancels_the_customers_leg(
    twilio_mock, client, online_agent, line
):
    line.agents.add(online_agent("alice"))
    driver = TwilioDriver(client)
    driver.post("voice", "voice", CallSid=AGENT_LEG, From="client:alice", Caller="client:alice", To="+14155550142")
    call = Call.objects.get(agent_call_sid=AGENT_LEG)
    twilio_mock.clear()

    driver.post(
        "outbound-conference",
        "conference_callback",
        query={"agentLeg": AGENT_LEG},
        CallSid=AGENT_LEG,
        StatusCallbackEvent="participant-leave",
        FriendlyName=call.conference_name,
    )

    cancel = only_exchange(twilio_mock)
    assert (cancel.method, cancel.path, cancel.params()) == ("POST", calls_path(call.call_sid), {"Status": "completed"})
