"""Webhook input read to the letter of the spec: FinishedOnKey on /gather, and unknown enum values refused."""

from xml.etree import ElementTree

import pytest
from django.urls import reverse

from tests.twilio.fixtures import twiml_of, verbs
from tests.twilio.payloads import payload
from tests.twilio.signing import signed_post
from voiceconfig.models import Call, CallEvent, CallLog, CallStage, CallStatus, IvrAction, IvrOption

pytestmark = pytest.mark.django_db


@pytest.fixture
def menu(line):
    line.config.ivr_prompt = "How can we help?"
    line.config.ivr_max_attempts = 2
    line.config.save()
    IvrOption.objects.create(config=line.config, digit="1", label="for sales", action=IvrAction.ROUTE)
    IvrOption.objects.create(
        config=line.config, digit="2", label="for our hours", action=IvrAction.MESSAGE, message="Nine to five."
    )
    return line


def said(root) -> list[str]:
    return [say.text for say in root.iter("Say")]


# --- FinishedOnKey ----------------------------------------------------------------------------------------


def test_pressing_only_the_finish_key_reads_the_menu_again_without_counting_an_attempt(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    root = twiml_of(twilio.gather(call_sid, digits="", FinishedOnKey="#"))

    assert verbs(root) == ["Gather"]  # the menu again, without "Sorry, I did not get that."
    assert said(root) == ["How can we help?", "For sales, press 1.", "For our hours, press 2."]
    call = Call.objects.get()
    assert call.ivr_attempts == 1 and call.stage == CallStage.IVR


def test_the_finish_key_press_is_on_the_calls_timeline(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    twilio.gather(call_sid, FinishedOnKey="#")
    twilio.gather(call_sid, FinishedOnKey="#")

    presses = CallLog.objects.filter(call_sid=call_sid, event=CallEvent.IVR_INPUT)
    assert [log.data for log in presses] == [{"finishedOnKey": "#"}, {"finishedOnKey": "#"}]
    assert "Pressed # with nothing before it" in presses[0].message


def test_after_finish_key_presses_every_wrong_attempt_is_still_allowed(twilio, menu, twilio_gateway):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    for _ in range(3):
        twilio.gather(call_sid, FinishedOnKey="#")

    # Two attempts: the finish-key presses used none, so one wrong key is answered "Sorry" and a second chance.
    again = twiml_of(twilio.gather(call_sid, digits="7"))
    assert said(again)[0] == "Sorry, I did not get that."
    assert verbs(again) == ["Say", "Gather"]
    last = twiml_of(twilio.gather(call_sid, digits="7"))
    assert last.find("Dial/Conference") is not None


def test_silence_without_a_finish_key_still_counts_as_a_wrong_attempt(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    root = twiml_of(twilio.gather(call_sid, digits="", FinishedOnKey=""))

    assert said(root)[0] == "Sorry, I did not get that."
    assert Call.objects.get().ivr_attempts == 2


def test_an_option_on_the_finish_key_is_chosen_by_pressing_it(twilio, menu):
    # Twilio leaves the finish key out of Digits, so "#" arrives only as FinishedOnKey.
    IvrOption.objects.create(
        config=menu.config, digit="#", label="for the address", action=IvrAction.MESSAGE, message="Main Street."
    )
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    root = twiml_of(twilio.gather(call_sid, digits="", FinishedOnKey="#"))

    assert said(root) == ["Main Street."]
    assert Call.objects.get().ivr_choice == "#"


def test_a_key_pressed_before_the_finish_key_is_the_choice(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    root = twiml_of(twilio.gather(call_sid, digits="2", FinishedOnKey="#"))

    assert said(root) == ["Nine to five."]


# --- unknown enum values: 400, nothing stored -------------------------------------------------------------


def test_an_unknown_call_status_is_a_400_envelope_for_a_json_client_and_stores_nothing(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    logs_before = CallLog.objects.count()

    response = twilio.status(call_sid, "bogus-status", seq=1, accept="application/json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert "bogus-status" in body["message"]
    assert "callStatus" in body["details"] and "in-progress" in body["details"]["callStatus"][0]
    assert CallLog.objects.count() == logs_before
    assert Call.objects.get().status == CallStatus.RINGING


def test_an_unknown_call_status_is_a_400_with_empty_twiml_for_twilio_and_stores_nothing(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    logs_before = CallLog.objects.count()

    response = twilio.status(call_sid, "bogus-status", seq=1)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response" and list(root) == []  # valid TwiML that makes Twilio do nothing
    assert CallLog.objects.count() == logs_before
    assert Call.objects.get().status == CallStatus.RINGING


def test_the_specs_camel_case_call_status_is_checked_too(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    fields = payload("status_callback", CallSid=call_sid, CallStatus=None) | {"callStatus": "Completed!"}

    response = signed_post(twilio.client, reverse("statuscallback"), fields, accept="application/json")

    assert response.status_code == 400
    assert Call.objects.get().status == CallStatus.RINGING


def test_a_voice_request_with_an_unknown_status_creates_no_call(twilio, menu):
    response = twilio.incoming(CallStatus="answered-maybe")

    assert response.status_code == 400
    assert not Call.objects.exists() and not CallLog.objects.exists()


def test_a_gather_with_an_unknown_status_chooses_nothing(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    response = twilio.gather(call_sid, digits="2", CallStatus="on-fire")

    assert response.status_code == 400
    call = Call.objects.get()
    assert call.ivr_choice == "" and call.stage == CallStage.IVR
    assert not call.logs.filter(event=CallEvent.IVR_INPUT).exists()


def test_an_unsigned_request_with_an_unknown_status_is_still_a_403(client, menu):
    response = client.post(reverse("statuscallback"), payload("status_callback", CallStatus="bogus-status"))

    assert response.status_code == 403


@pytest.mark.parametrize("status", CallStatus.values)
def test_every_call_status_twilio_sends_is_accepted(twilio, menu, status):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    assert twilio.status(call_sid, status, seq=1).status_code == 200


def test_the_fallback_answers_twiml_even_to_an_unknown_status(twilio, menu):
    response = twilio.post("fallback", "voice", CallSid=twilio.new_sid(), CallStatus="bogus-status")

    assert response.status_code == 200
    assert "Say" in verbs(twiml_of(response))


# --- what the webhooks store reads back as documented (found by the signed API fuzz) ------------------------


def test_a_recording_url_that_is_not_a_url_is_not_stored(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)

    response = twilio.recording(call_sid, kind="call", RecordingUrl="\x14not a url", RecordingDuration="5")

    assert response.status_code == 200
    assert Call.objects.get().recording_url == ""


def test_a_twilio_recording_url_is_stored(twilio, menu):
    call_sid = twilio.new_sid()
    twilio.incoming(call_sid=call_sid)
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "0" * 32

    twilio.recording(call_sid, kind="call", RecordingUrl=url, RecordingDuration="5")

    assert Call.objects.get().recording_url == url


def test_the_log_of_an_unknown_call_is_listed_with_call_null_as_the_schema_says(twilio, staff_client):
    twilio.status("CA" + "b" * 32, "completed", seq=1)

    listed = staff_client.get("/voiceconfig/calllogs").json()["results"]
    schema = staff_client.get("/api/schema/", {"format": "json"}).json()

    assert [log["call"] for log in listed] == [None]
    assert schema["components"]["schemas"]["CallLog"]["properties"]["call"]["nullable"] is True


def test_a_call_log_posted_without_a_call_is_still_refused(staff_client):
    response = staff_client.post(
        "/voiceconfig/calllogs", {"call": None, "event": "note", "message": "x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "call" in response.json()["details"]
    assert not CallLog.objects.exists()
