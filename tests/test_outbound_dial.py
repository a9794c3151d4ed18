"""Click-to-dial (issue 19): the softphone's voice request, the toll-fraud guard, the customer's leg.

The gateway is mocked here (what goes over the wire is in tests/contract/test_outbound_contract.py).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.twilio.fixtures import twiml_of, verbs
from tests.twilio.payloads import sid
from voiceconfig.calls import outbound as outbound_services
from voiceconfig.models import AgentStatus, Call, CallDirection, CallLog, CallStage, CallStatus, PhoneLine, VoiceAgent
from voicetwilio import gateway

AGENT_LEG = sid("CA", 0xD1A1)
UK_MOBILE = "+447911123456"
US_NUMBER = "+14155550142"


def dial(twilio, number: str, *, leg: str = AGENT_LEG, identity: str = "alice", **params):
    return twilio.post(
        "voice",
        "voice",
        CallSid=leg,
        From=f"client:{identity}",
        Caller=f"client:{identity}",
        To=number,
        Called="",
        Direction="inbound",
        **params,
    )


def said(root) -> str:
    return " ".join(element.text or "" for element in root.iter("Say"))


@pytest.fixture
def dialer(online_agent, line):
    agent = online_agent("alice")
    line.agents.add(agent)
    return agent


def test_the_agent_is_put_in_a_conference_and_the_customer_dialled_from_the_lines_number(
    twilio, dialer, line, twilio_gateway
):
    root = twiml_of(dial(twilio, US_NUMBER))

    assert verbs(root) == ["Dial", "Hangup"]
    conference = root.find("Dial/Conference")
    assert conference.get("startConferenceOnEnter") == "true" and conference.get("endConferenceOnExit") == "true"
    sent = twilio_gateway.add_participant.call_args.kwargs
    assert sent["to"] == US_NUMBER and sent["from_"] == line.phone_number
    assert sent["conference_name"] == conference.text
    assert "/voicetwilio/outboundstatus?agentLeg=" in sent["status_callback_url"]
    call = Call.objects.get(agent_call_sid=AGENT_LEG)
    assert call.direction == CallDirection.OUTBOUND_DIAL and call.agent == dialer and call.phone_line == line
    assert call.call_sid != AGENT_LEG  # the customer's leg: the party hold and transfer act on
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.RINGING


def test_the_customer_answering_starts_talk_time_and_hanging_up_wraps_the_agent_up(twilio, dialer, twilio_gateway):
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)
    query = {"agentLeg": AGENT_LEG}

    twilio.post(
        "outbound-status",
        "status_callback",
        query=query,
        CallSid=call.call_sid,
        CallStatus="in-progress",
        SequenceNumber=1,
    )
    call.refresh_from_db()
    assert call.answered_at is not None and call.status == CallStatus.IN_PROGRESS
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.IN_CALL

    twilio.post(
        "outbound-status",
        "status_callback",
        query=query,
        CallSid=call.call_sid,
        CallStatus="completed",
        SequenceNumber=2,
    )
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.WRAP_UP


def test_a_customer_who_never_answers_frees_the_agent_and_hangs_up_their_leg(twilio, dialer, twilio_gateway):
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)

    twilio.post(
        "outbound-status",
        "status_callback",
        query={"agentLeg": AGENT_LEG},
        CallSid=call.call_sid,
        CallStatus="no-answer",
        SequenceNumber=1,
    )

    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.AVAILABLE
    assert twilio_gateway.end_call.call_args.kwargs == {"call_sid": AGENT_LEG}


def test_twilio_asking_twice_dials_the_customer_once(twilio, dialer, twilio_gateway):
    dial(twilio, US_NUMBER)
    root = twiml_of(dial(twilio, US_NUMBER))

    assert twilio_gateway.add_participant.call_count == 1
    assert root.find("Dial/Conference") is not None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4155550142", "not an E.164 number"),
        ("+1 415 555 0142", "not an E.164 number"),
        ("+19005550142", "premium-rate"),
        (UK_MOBILE, "country code +44 are not allowed"),
        ("+1415", "not an E.164 number"),
    ],
)
def test_the_guard_refuses_with_a_message_and_a_timeline_line(twilio, dialer, twilio_gateway, number, reason):
    root = twiml_of(dial(twilio, number))

    assert reason in said(root) and verbs(root)[-1] == "Hangup"
    twilio_gateway.add_participant.assert_not_called()
    call = Call.objects.get(call_sid=AGENT_LEG)
    assert call.stage == CallStage.REJECTED and call.status == CallStatus.COMPLETED
    assert reason in CallLog.objects.get(call=call, dedupe_key="dial-refused").message
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.AVAILABLE


def test_the_configs_allow_list_opens_other_countries_and_the_deny_list_still_applies(
    twilio, dialer, line, twilio_gateway
):
    line.config.outbound_country_codes = "1, 44"
    line.config.save()

    twiml_of(dial(twilio, UK_MOBILE))
    assert twilio_gateway.add_participant.call_args.kwargs["to"] == UK_MOBILE

    refused = twiml_of(dial(twilio, "+449012345678", leg=sid("CA", 0xD1A2)))
    assert "premium-rate" in said(refused)


def test_the_hourly_limit_refuses_the_next_dial(twilio, dialer, line, twilio_gateway):
    line.config.outbound_calls_per_agent_hour = 2
    line.config.save()
    now = timezone.now()
    for n in (1, 2):
        Call.objects.create(
            call_sid=sid("CA", 0xE000 + n),
            direction=CallDirection.OUTBOUND_DIAL,
            agent=None,
            phone_line=line,
            status=CallStatus.COMPLETED,
            stage=CallStage.CONNECTED,
            started_at=now - timedelta(minutes=10 * n),
        )
    Call.objects.filter(call_sid__startswith="CA0000").update(agent=dialer)
    old = Call.objects.create(
        call_sid=sid("CA", 0xE010),
        direction=CallDirection.OUTBOUND_DIAL,
        phone_line=line,
        status=CallStatus.COMPLETED,
        stage=CallStage.CONNECTED,
        started_at=now - timedelta(minutes=61),
    )
    Call.objects.filter(pk=old.pk).update(agent=dialer)

    root = twiml_of(dial(twilio, US_NUMBER))

    assert "limit of 2 outbound calls an hour" in said(root)


def test_an_agent_on_several_lines_must_pick_one_and_gets_the_one_picked(twilio, dialer, line, config, twilio_gateway):
    second = PhoneLine.objects.create(name="Sales", phone_number="+14155550177", config=config)
    second.agents.add(dialer)

    assert "pick the line" in said(twiml_of(dial(twilio, US_NUMBER)))

    twiml_of(dial(twilio, US_NUMBER, leg=sid("CA", 0xD1A3), line=second.pk))
    assert twilio_gateway.add_participant.call_args.kwargs["from_"] == second.phone_number


def test_a_line_the_agent_does_not_belong_to_is_refused(twilio, dialer, config, other_agent, twilio_gateway):
    foreign = PhoneLine.objects.create(name="Other", phone_number="+14155550166", config=config)
    foreign.agents.add(other_agent)

    assert "cannot call from that line" in said(twiml_of(dial(twilio, US_NUMBER, line=foreign.pk)))


def test_twilio_refusing_the_dial_ends_the_call_failed_and_frees_the_agent(twilio, dialer, twilio_gateway):
    twilio_gateway.add_participant.side_effect = gateway.GatewayError("Twilio said no", twilio_code=21215)

    root = twiml_of(dial(twilio, US_NUMBER))

    assert "could not be placed" in said(root)
    call = Call.objects.get(call_sid=AGENT_LEG)
    assert call.status == CallStatus.FAILED and call.agent is None
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.AVAILABLE


def test_calling_back_a_missed_call_marks_it_followed_up(twilio, dialer, line, twilio_gateway):
    missed = Call.objects.create(
        call_sid=sid("CA", 0xF001),
        from_number=US_NUMBER,
        phone_line=line,
        status=CallStatus.COMPLETED,
        stage=CallStage.ABANDONED,
    )
    assert list(outbound_services.missed_calls()) == [missed]

    dial(twilio, US_NUMBER, returns=missed.pk)

    missed.refresh_from_db()
    assert missed.followed_up_at is not None
    assert list(outbound_services.missed_calls()) == []


def test_an_unknown_softphone_identity_is_told_and_nothing_is_dialled(twilio, db, line, twilio_gateway):
    root = twiml_of(dial(twilio, US_NUMBER, identity="mallory"))

    assert "belongs to no agent" in said(root)
    twilio_gateway.add_participant.assert_not_called()


@pytest.mark.parametrize("policy, recorded", [("always", True), ("on-demand", False), ("off", False)])
def test_an_always_line_records_the_outbound_call_from_the_customers_answer(
    twilio, dialer, config, twilio_gateway, monkeypatch, policy, recorded
):
    config.recording_policy = policy
    config.save()
    started = []
    monkeypatch.setattr(gateway, "start_call_recording", lambda **kw: started.append(kw) or sid("RE", 7))
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)
    assert started == [], "nothing is recorded while the customer's phone rings"

    for seq in (1, 2):  # Twilio delivering the answer twice starts one recording
        twilio.post(
            "outbound-status",
            "status_callback",
            query={"agentLeg": AGENT_LEG},
            CallSid=call.call_sid,
            CallStatus="in-progress",
            SequenceNumber=seq,
        )

    assert [kw["call_sid"] for kw in started] == ([call.call_sid] if recorded else [])
    assert call.recordings.filter(recording_sid=sid("RE", 7)).exists() == recorded


def agent_leaves(twilio, conference_name: str, *, leg: str = AGENT_LEG, seq: int = 3, agent_leg: str = AGENT_LEG):
    return twilio.post(
        "outbound-conference",
        "conference_callback",
        query={"agentLeg": agent_leg},
        CallSid=leg,
        StatusCallbackEvent="participant-leave",
        SequenceNumber=seq,
        FriendlyName=conference_name,
    )


def test_the_agents_conference_reports_the_agent_leaving(twilio, dialer, twilio_gateway):
    conference = twiml_of(dial(twilio, US_NUMBER)).find("Dial/Conference")

    assert "/voicetwilio/outboundconference?agentLeg=" in conference.get("statusCallback")
    assert conference.get("statusCallbackEvent") == "leave"


def test_the_agent_hanging_up_before_the_customer_answers_cancels_the_customers_leg(twilio, dialer, twilio_gateway):
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)

    assert agent_leaves(twilio, call.conference_name).status_code == 200

    assert twilio_gateway.end_call.call_args_list[-1].kwargs == {"call_sid": call.call_sid}
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.AVAILABLE
    assert CallLog.objects.filter(call=call, dedupe_key="agent-left-unanswered").exists()
    # Twilio cancels the customer's leg: the call ends, unanswered, and no agent is wrapped up.
    status = dict(query={"agentLeg": AGENT_LEG}, CallSid=call.call_sid)
    twilio.post("outbound-status", "status_callback", CallStatus="canceled", SequenceNumber=2, **status)
    call.refresh_from_db()
    assert call.status == CallStatus.CANCELED and call.answered_at is None
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.AVAILABLE


def test_a_customer_answering_after_a_failed_cancel_starts_no_talk_time(twilio, dialer, twilio_gateway, caplog):
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)
    twilio_gateway.end_call.side_effect = gateway.GatewayError("Twilio is down")

    assert agent_leaves(twilio, call.conference_name).status_code == 200  # logged, not fatal

    assert "could not cancel customer leg" in caplog.text
    status = dict(query={"agentLeg": AGENT_LEG}, CallSid=call.call_sid)
    twilio.post("outbound-status", "status_callback", CallStatus="in-progress", SequenceNumber=2, **status)
    call.refresh_from_db()
    assert call.answered_at is None and call.agent is None
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.AVAILABLE


def test_dials_the_agent_hung_up_on_before_an_answer_still_count_towards_the_hourly_limit(
    twilio, dialer, line, twilio_gateway
):
    # Dial, hang up while the customer rings, repeat: each dial reached Twilio, so each counts (toll-fraud guard).
    line.config.outbound_calls_per_agent_hour = 2
    line.config.save()
    for n in (1, 2):
        leg = sid("CA", 0xD1B0 + n)
        dial(twilio, US_NUMBER, leg=leg)
        call = Call.objects.get(agent_call_sid=leg)
        agent_leaves(twilio, call.conference_name, leg=leg, agent_leg=leg)
        assert Call.objects.get(pk=call.pk).agent is None  # the agent was let go at once

    root = twiml_of(dial(twilio, US_NUMBER, leg=sid("CA", 0xD1B9)))

    assert "limit of 2 outbound calls an hour" in said(root)
    assert twilio_gateway.add_participant.call_count == 2


def test_the_agent_leaving_after_the_customer_answered_cancels_nothing(twilio, dialer, twilio_gateway):
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)
    status = dict(query={"agentLeg": AGENT_LEG}, CallSid=call.call_sid)
    twilio.post("outbound-status", "status_callback", CallStatus="in-progress", SequenceNumber=1, **status)

    agent_leaves(twilio, call.conference_name)
    agent_leaves(twilio, call.conference_name, leg=call.call_sid, seq=4)  # the customer leaving: not the agent

    twilio_gateway.end_call.assert_not_called()
    assert VoiceAgent.objects.get(pk=dialer.pk).status == AgentStatus.IN_CALL
    assert Call.objects.get(pk=call.pk).agent == dialer


def answer(twilio, call, seq: int = 1):
    return twilio.post(
        "outbound-status",
        "status_callback",
        query={"agentLeg": AGENT_LEG},
        CallSid=call.call_sid,
        CallStatus="in-progress",
        SequenceNumber=seq,
    )


@pytest.fixture
def announcements(monkeypatch):
    sent = []
    monkeypatch.setattr(gateway, "announce_to_participant", lambda **kw: sent.append(("announce", kw)))
    monkeypatch.setattr(gateway, "start_call_recording", lambda **kw: sent.append(("record", kw)) or sid("RE", 1))
    return sent


@pytest.mark.parametrize("policy", ["always", "on-demand"])
def test_a_customer_on_a_line_that_records_hears_the_inbound_consent_before_recording(
    twilio, dialer, config, twilio_gateway, announcements, policy
):
    config.recording_policy = policy
    config.recording_consent_text = "Calls are recorded to train our staff."
    config.save()
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)

    answer(twilio, call)
    answer(twilio, call)  # delivered twice: told once

    assert [name for name, _ in announcements] == (["announce", "record"] if policy == "always" else ["announce"])
    told = announcements[0][1]
    assert told["call_sid"] == call.call_sid and told["conference_sid"] == call.conference_sid
    assert told["announce_url"].startswith(f"http://testserver/voicetwilio/recordingconsent?callSid={call.call_sid}")
    root = twiml_of(twilio.post("recording-consent", "voice", query={"callSid": call.call_sid}, CallSid=call.call_sid))
    assert said(root) == "Calls are recorded to train our staff."  # what an inbound caller hears before the queue


def test_a_customer_who_could_not_be_told_is_not_recorded(twilio, dialer, config, twilio_gateway, monkeypatch):
    config.recording_policy = "always"
    config.save()
    recorded = []
    monkeypatch.setattr(gateway, "start_call_recording", lambda **kw: recorded.append(kw) or sid("RE", 1))

    def refuse(**kw):
        raise gateway.GatewayError("Twilio is down")

    monkeypatch.setattr(gateway, "announce_to_participant", refuse)
    dial(twilio, US_NUMBER)
    call = Call.objects.get(agent_call_sid=AGENT_LEG)

    assert answer(twilio, call).status_code == 200

    assert recorded == []
    assert Call.objects.get(pk=call.pk).answered_at is not None  # the conversation goes on, unrecorded
    assert CallLog.objects.filter(call=call, dedupe_key="consent-failed").exists()


def test_a_line_that_does_not_record_tells_the_customer_nothing(twilio, dialer, config, twilio_gateway, announcements):
    dial(twilio, US_NUMBER)  # the config fixture records nothing (policy off)

    answer(twilio, Call.objects.get(agent_call_sid=AGENT_LEG))

    assert announcements == []
