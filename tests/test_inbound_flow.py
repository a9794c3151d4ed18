"""The inbound flow, end to end through the signed webhooks: what the caller hears and what is stored."""

from datetime import time
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.twilio.fixtures import twiml_of, verbs
from tests.twilio.payloads import payload
from tests.twilio.signing import signed_post
from voiceconfig.models import (
    AfterHoursAction,
    AgentStatus,
    BusinessHours,
    Call,
    CallEvent,
    CallLog,
    CallStage,
    CallStatus,
    Holiday,
    IvrAction,
    IvrOption,
)
from voicetwilio.links import RETRY_OVERRIDES

pytestmark = pytest.mark.django_db


def closed_all_week(config):
    """Business hours that never include now: one minute a week, on a day that is not today."""
    today = timezone.now().astimezone(timezone.get_current_timezone()).weekday()
    BusinessHours.objects.create(config=config, weekday=(today + 3) % 7, opens_at=time(3, 0), closes_at=time(3, 1))


def add_menu(config):
    config.ivr_prompt = "How can we help?"
    config.ivr_max_attempts = 2
    config.save()
    IvrOption.objects.create(config=config, digit="1", keywords="sales, buy", label="for sales", action=IvrAction.ROUTE)
    IvrOption.objects.create(
        config=config,
        digit="2",
        keywords="opening hours",
        label="for our hours",
        action=IvrAction.MESSAGE,
        message="We are open nine to five.",
    )
    IvrOption.objects.create(
        config=config,
        digit="3",
        keywords="billing",
        label="for billing",
        action=IvrAction.FORWARD,
        forward_to="+14155550199",
    )
    IvrOption.objects.create(
        config=config, digit="9", keywords="message", label="to leave a message", action=IvrAction.VOICEMAIL
    )


# --- unknown and disabled numbers ------------------------------------------------------------------------


def test_unknown_number_hears_a_polite_message_and_is_hung_up_on(twilio):
    root = twiml_of(twilio.incoming(to="+14155550987"))
    assert verbs(root) == ["Say", "Hangup"]
    assert "not in service" in root.find("Say").text
    call = Call.objects.get()
    assert call.stage == CallStage.REJECTED and call.phone_line is None
    # Ended, not `ringing` for ever: a number we do not serve has no status callback that would tell us.
    assert call.status == CallStatus.COMPLETED and call.ended_at is not None and not call.is_active
    assert call.logs.get(event=CallEvent.ROUTING).message == "Rejected: unknown number +14155550987."


def test_a_rejected_call_stays_rejected_whatever_comes_after(twilio, line, online_agent, twilio_gateway):
    online_agent("alice")
    sid = twilio.new_sid()
    twiml_of(twilio.incoming(call_sid=sid, to="+14155550987"))

    twiml_of(twilio.incoming(call_sid=sid, to="+14155550987", CallStatus="in-progress"))
    twiml_of(twilio.status(sid, "in-progress", seq=1))
    twiml_of(twilio.gather(sid, digits="1"))

    call = Call.objects.get(call_sid=sid)
    assert (call.stage, call.status) == (CallStage.REJECTED, CallStatus.COMPLETED)
    assert call.logs.filter(event=CallEvent.ROUTING).count() == 1
    twilio_gateway.add_participant.assert_not_called()


def test_a_rejected_call_without_a_to_number_says_so_in_its_log(twilio):
    twiml_of(twilio.incoming(to=""))

    assert Call.objects.get().logs.get(event=CallEvent.ROUTING).message == (
        "Rejected: unknown number (Twilio sent no To number)."
    )


def test_disabled_line_hears_the_same_message_in_its_own_voice(twilio, line):
    line.enabled = False
    line.save()
    line.config.voice = "Polly.Amy"
    line.config.language = "en-GB"
    line.config.save()
    root = twiml_of(twilio.incoming())
    say = root.find("Say")
    assert "not in service" in say.text
    assert (say.get("voice"), say.get("language")) == ("Polly.Amy", "en-GB")
    assert Call.objects.get().stage == CallStage.REJECTED


def test_a_voice_request_without_call_sid_is_answered_without_storing_anything(client, db, line):
    response = signed_post(client, reverse("voice"), payload("voice", CallSid=None))
    assert verbs(twiml_of(response)) == ["Say", "Hangup"]
    assert not Call.objects.exists()


# --- after hours -----------------------------------------------------------------------------------------


def test_after_hours_message_is_said_then_the_call_ends(twilio, line):
    closed_all_week(line.config)
    root = twiml_of(twilio.incoming())
    assert verbs(root) == ["Say", "Hangup"]
    assert root.find("Say").text == line.config.after_hours_message
    call = Call.objects.get()
    assert call.stage == CallStage.MESSAGE
    assert call.logs.filter(dedupe_key="after-hours").exists()


def test_after_hours_voicemail_records_a_message(twilio, line):
    closed_all_week(line.config)
    line.config.after_hours_action = AfterHoursAction.VOICEMAIL
    line.config.save()
    root = twiml_of(twilio.incoming(call_sid="CA" + "1" * 32))
    assert verbs(root) == ["Say", "Record", "Say", "Hangup"]
    record = root.find("Record")
    assert (
        record.get("action")
        == f"http://testserver/voicetwilio/recordingcallback?callSid={'CA' + '1' * 32}&kind=voicemail#{RETRY_OVERRIDES}"
    )
    assert record.get("maxLength") == str(line.config.voicemail_max_seconds)
    assert Call.objects.get().stage == CallStage.VOICEMAIL


def test_after_hours_forward_dials_the_configured_number(twilio, line):
    closed_all_week(line.config)
    line.config.after_hours_action = AfterHoursAction.FORWARD
    line.config.after_hours_forward_to = "+14155550142"
    line.config.save()
    root = twiml_of(twilio.incoming())
    dial = root.find("Dial")
    assert dial.text == "+14155550142"
    assert dial.get("action").startswith("http://testserver/voicetwilio/dialcallback?callSid=CA")
    assert Call.objects.get().stage == CallStage.FORWARDED


def test_a_holiday_closes_the_line_all_day(twilio, line):
    today = timezone.now().astimezone(timezone.get_current_timezone()).date()
    Holiday.objects.create(config=line.config, date=today, name="Founders day")
    assert verbs(twiml_of(twilio.incoming())) == ["Say", "Hangup"]
    assert Call.objects.get().stage == CallStage.MESSAGE


def test_unanswered_forward_tells_the_caller(twilio, line):
    response = twilio.incoming()
    call_sid = Call.objects.get().call_sid
    root = twiml_of(twilio.dial_action(call_sid, "no-answer"))
    assert root.find("Say").text == line.config.unavailable_message
    assert CallLog.objects.filter(call__call_sid=call_sid, call_status="no-answer").exists()
    assert response.status_code == 200


# --- greeting and routing --------------------------------------------------------------------------------


def test_open_line_without_menu_greets_then_waits_in_the_calls_conference(twilio, line, twilio_gateway):
    call_sid = "CA" + "2" * 32
    root = twiml_of(twilio.incoming(call_sid=call_sid))
    assert verbs(root) == ["Say", "Dial", "Say", "Hangup"]
    say = root.find("Say")
    assert (say.text, say.get("voice"), say.get("language")) == ("Thank you for calling.", "Polly.Joanna", "en-US")
    conference = root.find("Dial/Conference")
    assert conference.text == f"call-{call_sid}"
    assert conference.get("waitUrl") == f"http://testserver/voicetwilio/queuewait?callSid={call_sid}"
    assert conference.get("statusCallback") == (
        f"http://testserver/voicetwilio/conferencecallback?callSid={call_sid}#{RETRY_OVERRIDES}"
    )
    assert conference.get("startConferenceOnEnter") == "false"
    assert conference.get("endConferenceOnExit") == "true"
    assert conference.get("record") is None
    call = Call.objects.get()
    assert call.stage == CallStage.QUEUED and call.queued_at is not None and call.agent is None


def test_greeting_by_audio_url_plays_it(twilio, line, twilio_gateway):
    line.config.greeting_audio_url = "https://cdn.example.com/hello.mp3"
    line.config.save()
    root = twiml_of(twilio.incoming())
    assert root.find("Play").text == "https://cdn.example.com/hello.mp3"
    assert verbs(root)[0] == "Play"


def test_an_always_recorded_line_tells_the_caller_and_leaves_recording_to_the_rest_api(twilio, line, twilio_gateway):
    line.config.recording_policy = "always"
    line.config.save()
    root = twiml_of(twilio.incoming(call_sid="CA" + "3" * 32))
    assert any("may be recorded" in (say.text or "") for say in root.iter("Say"))
    # Recorded from the agent's answer over REST (dual channel, pausable): the conference itself records nothing.
    assert root.find("Dial/Conference").get("record") is None


def test_available_agent_is_rung_into_the_conference(twilio, line, online_agent, twilio_gateway):
    agent = online_agent("alice")
    call_sid = "CA" + "4" * 32
    twiml_of(twilio.incoming(call_sid=call_sid))
    twilio_gateway.add_participant.assert_called_once_with(
        conference_name=f"call-{call_sid}",
        to=f"client:{agent.identity}",
        from_="+14155550100",
        status_callback_url=(
            f"http://testserver/voicetwilio/participantcallback?callSid={call_sid}&agent={agent.pk}#{RETRY_OVERRIDES}"
        ),
        timeout_seconds=line.config.ring_timeout_seconds,
        label="agent",
        end_conference_on_exit=True,
    )
    call = Call.objects.get()
    agent.refresh_from_db()
    assert call.agent == agent and agent.status == AgentStatus.RINGING
    assert call.agent_call_sid.startswith("CA") and call.conference_sid.startswith("CF")


def test_json_clients_get_the_twiml_in_the_specs_envelope(twilio, line, twilio_gateway):
    response = twilio.incoming(accept="application/json")
    assert response["Content-Type"] == "application/json"
    assert response.json()["data"].startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')


def test_the_specs_camel_case_field_names_work_too(client, db, line, twilio_gateway):
    params = {"callSid": "CA" + "5" * 32, "from": "+14155550111", "to": "+14155550100"}
    response = signed_post(client, reverse("voice"), params)
    assert twiml_of(response).find("Dial/Conference") is not None
    call = Call.objects.get()
    assert (call.call_sid, call.from_number, call.to_number) == (params["callSid"], "+14155550111", "+14155550100")


def test_a_repeated_voice_request_puts_the_caller_back_in_the_same_conference(twilio, line, twilio_gateway):
    call_sid = "CA" + "6" * 32
    twilio.incoming(call_sid=call_sid)
    root = twiml_of(twilio.incoming(call_sid=call_sid))
    assert root.find("Dial/Conference").text == f"call-{call_sid}"
    assert Call.objects.count() == 1


# --- the IVR menu ----------------------------------------------------------------------------------------


def test_menu_reads_the_prompt_and_options_inside_a_gather(twilio, line):
    add_menu(line.config)
    call_sid = "CA" + "7" * 32
    root = twiml_of(twilio.incoming(call_sid=call_sid))
    assert verbs(root) == ["Say", "Gather"]
    gather = root.find("Gather")
    assert gather.get("input") == "dtmf speech"
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"http://testserver/voicetwilio/gather?callSid={call_sid}"
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("timeout") == str(line.config.ivr_timeout_seconds)
    assert "sales" in gather.get("hints")
    said = [say.text for say in gather.findall("Say")]
    assert said == [
        "How can we help?",
        "For sales, press 1.",
        "For our hours, press 2.",
        "For billing, press 3.",
        "To leave a message, press 9.",
    ]
    call = Call.objects.get()
    assert call.stage == CallStage.IVR and call.ivr_attempts == 1


def test_pressing_a_key_routes_to_agents(twilio, line, twilio_gateway):
    add_menu(line.config)
    call_sid = "CA" + "8" * 32
    twilio.incoming(call_sid=call_sid)
    root = twiml_of(twilio.gather(call_sid, digits="1"))
    assert root.find("Dial/Conference").text == f"call-{call_sid}"
    call = Call.objects.get()
    assert call.ivr_choice == "1" and call.stage == CallStage.QUEUED
    assert call.logs.get(event=CallEvent.IVR_INPUT).data == {"digits": "1"}


@pytest.mark.parametrize(
    "speech, expected",
    [
        ("I'd like to buy something", "1"),
        ("What are your opening hours?", "2"),
        ("Billing please.", "3"),
        ("two", "2"),
        ("Option 9", "9"),
    ],
)
def test_saying_a_keyword_or_a_key_picks_that_option(twilio, line, twilio_gateway, speech, expected):
    add_menu(line.config)
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    twiml_of(twilio.gather(call_sid, speech=speech))
    assert Call.objects.get().ivr_choice == expected


def test_message_option_says_its_message_and_hangs_up(twilio, line):
    add_menu(line.config)
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    root = twiml_of(twilio.gather(call_sid, digits="2"))
    assert verbs(root) == ["Say", "Hangup"]
    assert root.find("Say").text == "We are open nine to five."
    assert Call.objects.get().stage == CallStage.MESSAGE


def test_forward_option_dials_its_number(twilio, line):
    add_menu(line.config)
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    assert twiml_of(twilio.gather(call_sid, digits="3")).find("Dial").text == "+14155550199"
    assert Call.objects.get().stage == CallStage.FORWARDED


def test_voicemail_option_records(twilio, line):
    add_menu(line.config)
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    assert "Record" in verbs(twiml_of(twilio.gather(call_sid, digits="9")))


def test_silence_or_a_wrong_key_reprompts_then_routes_after_the_last_attempt(twilio, line, twilio_gateway):
    add_menu(line.config)  # two attempts
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    again = twiml_of(twilio.gather(call_sid))
    assert verbs(again) == ["Say", "Gather"]
    assert again.find("Say").text == "Sorry, I did not get that."
    assert Call.objects.get().ivr_attempts == 2
    last = twiml_of(twilio.gather(call_sid, digits="7"))
    assert last.find("Say").text == "Let me put you through to the next available agent."
    assert last.find("Dial/Conference") is not None
    call = Call.objects.get()
    assert call.stage == CallStage.QUEUED and call.ivr_choice == ""
    assert call.logs.filter(event=CallEvent.IVR_INPUT).count() == 2


def test_gather_for_an_unknown_call_hangs_up_politely(twilio, line):
    assert verbs(twiml_of(twilio.gather("CA" + "f" * 32, digits="1"))) == ["Say", "Hangup"]


# --- never a 500 -----------------------------------------------------------------------------------------


def test_an_unexpected_error_is_answered_with_an_apology_and_the_fallback_route(twilio, line):
    # (Business hours are read only for a config that has some; recording the call happens on every call.)
    with mock.patch("voicetwilio.webhooks.flow.call_services.call_start", side_effect=RuntimeError("boom")):
        root = twiml_of(twilio.incoming(call_sid="CA" + "9" * 32))
    assert "something went wrong" in root.find("Say").text
    # The line's own fallback URL, which knows without the database that this line takes messages.
    assert root.find("Redirect").text == (
        "http://testserver/voicetwilio/fallback?line=%2B14155550100&voice=Polly.Joanna&language=en-US"
        "&voicemail=1&maxSeconds=120"
    )


def test_an_unexpected_error_for_an_unknown_number_redirects_to_the_bare_fallback(twilio, line):
    with mock.patch("voicetwilio.webhooks.flow.call_services.call_start", side_effect=RuntimeError("boom")):
        root = twiml_of(twilio.incoming(call_sid="CA" + "9" * 32, to="+14155550999"))
    assert root.find("Redirect").text == f"http://testserver/voicetwilio/fallback?callSid={'CA' + '9' * 32}"


def test_a_broken_database_during_a_callback_still_answers_twiml(twilio, line):
    with mock.patch("voiceconfig.calls.call_apply_status", side_effect=RuntimeError("db down")):
        response = twilio.status("CA" + "c" * 32, "completed")
    assert verbs(twiml_of(response)) == []


def test_a_broken_queue_wait_keeps_the_caller_on_hold(twilio, line):
    with mock.patch("voicetwilio.webhooks.flow.find_call", side_effect=RuntimeError("db down")):
        root = twiml_of(twilio.queue_wait("CA" + "d" * 32))
    assert verbs(root) == ["Say", "Pause", "Redirect"]
