"""Every gateway function, through the real twilio-python client, against Twilio's own API contract.

Prism validates each request against twilio_api_v2010.json (SID patterns, enums, URI formats, types) and
answers 422 on any mismatch, so `status < 400` proves Twilio's schema accepts what we send; the recorded
form proves it is exactly what we meant to send.
"""

import ast
import inspect
import json
import re
from pathlib import Path

import pytest
from django.conf import settings

from voicetwilio import gateway

ACCOUNT = settings.TWILIO_ACCOUNT_SID if settings.TWILIO_ACCOUNT_SID else "AC" + "0" * 31 + "1"
CONFERENCE_SID = "CF" + "a" * 32
CALLER_LEG = "CA" + "1" * 32
AGENT_LEG = "CA" + "2" * 32
CALLBACK = "https://voice.example.com/voicetwilio/conference/participant?call=7"
HOLD_MUSIC = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"


def only_exchange(mock):
    assert len(mock.exchanges) == 1, [(e.method, e.path) for e in mock.exchanges]
    exchange = mock.exchanges[0]
    assert exchange.status < 400, f"Twilio's contract rejected the request ({exchange.status}): {exchange.answer}"
    return exchange


def account_path(rest: str) -> str:
    return f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/{rest}"


def test_adding_a_participant_dials_into_the_conference_by_name(twilio_mock):
    participant = gateway.add_participant(
        conference_name="call-7",
        to="client:alice",
        from_="+14155550100",
        status_callback_url=CALLBACK,
        timeout_seconds=20,
        label="agent-3",
        end_conference_on_exit=True,
    )

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path("Conferences/call-7/Participants.json"))
    assert exchange.params() == {
        "From": "+14155550100",
        "To": "client:alice",
        "Timeout": "20",
        "StatusCallback": CALLBACK,
        "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "EarlyMedia": "true",
        "Beep": "false",
        "EndConferenceOnExit": "true",
        "Label": "agent-3",
    }
    # The SIDs come back from Twilio's own example answer.
    assert participant.call_sid.startswith("CA") and participant.conference_sid.startswith("CF")


def test_adding_a_phone_number_without_label_sends_no_label(twilio_mock):
    gateway.add_participant(
        conference_name=CONFERENCE_SID,
        to="+442071838750",
        from_="+14155550100",
        status_callback_url=CALLBACK,
        timeout_seconds=30,
    )

    exchange = only_exchange(twilio_mock)
    assert exchange.path == account_path(f"Conferences/{CONFERENCE_SID}/Participants.json")
    assert "Label" not in exchange.form
    assert exchange.params()["To"] == "+442071838750"
    assert exchange.params()["EndConferenceOnExit"] == "false"


def test_holding_a_participant_sends_hold_music(twilio_mock):
    gateway.set_participant_hold(conference_sid=CONFERENCE_SID, call_sid=CALLER_LEG, hold=True, hold_url=HOLD_MUSIC)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == (
        "POST",
        account_path(f"Conferences/{CONFERENCE_SID}/Participants/{CALLER_LEG}.json"),
    )
    assert exchange.params() == {"Hold": "true", "HoldUrl": HOLD_MUSIC, "HoldMethod": "GET"}


def test_resuming_a_participant_sends_only_hold_false(twilio_mock):
    gateway.set_participant_hold(conference_sid=CONFERENCE_SID, call_sid=CALLER_LEG, hold=False, hold_url=HOLD_MUSIC)

    exchange = only_exchange(twilio_mock)
    assert exchange.path == account_path(f"Conferences/{CONFERENCE_SID}/Participants/{CALLER_LEG}.json")
    assert exchange.params() == {"Hold": "false"}


def test_a_leaving_agent_can_be_told_not_to_end_the_conference(twilio_mock):
    gateway.set_participant_ends_conference(
        conference_sid=CONFERENCE_SID, call_sid=AGENT_LEG, end_conference_on_exit=False
    )

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == (
        "POST",
        account_path(f"Conferences/{CONFERENCE_SID}/Participants/{AGENT_LEG}.json"),
    )
    assert exchange.params() == {"EndConferenceOnExit": "false"}


def test_an_announcement_to_one_participant_sends_its_url(twilio_mock):
    url = "https://voice.example.com/voicetwilio/recordingconsent?callSid=" + CALLER_LEG
    gateway.announce_to_participant(conference_sid=CONFERENCE_SID, call_sid=CALLER_LEG, announce_url=url)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == (
        "POST",
        account_path(f"Conferences/{CONFERENCE_SID}/Participants/{CALLER_LEG}.json"),
    )
    assert exchange.params() == {"AnnounceUrl": url, "AnnounceMethod": "POST"}


def test_removing_a_participant_deletes_it_by_conference_sid(twilio_mock):
    gateway.remove_participant(conference_sid=CONFERENCE_SID, call_sid=AGENT_LEG)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == (
        "DELETE",
        account_path(f"Conferences/{CONFERENCE_SID}/Participants/{AGENT_LEG}.json"),
    )
    assert exchange.form == {}


def test_redirecting_a_call_posts_the_new_twiml_url(twilio_mock):
    url = "https://voice.example.com/voicetwilio/voice?step=queue"
    gateway.redirect_call(call_sid=CALLER_LEG, url=url)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path(f"Calls/{CALLER_LEG}.json"))
    assert exchange.params() == {"Url": url, "Method": "POST"}


def test_ending_a_call_completes_it(twilio_mock):
    gateway.end_call(call_sid=CALLER_LEG)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path(f"Calls/{CALLER_LEG}.json"))
    assert exchange.params() == {"Status": "completed"}


def test_ending_a_conference_completes_it_for_everyone_in_it(twilio_mock):
    gateway.end_conference(conference_sid=CONFERENCE_SID)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path(f"Conferences/{CONFERENCE_SID}.json"))
    assert exchange.params() == {"Status": "completed"}


@pytest.mark.parametrize(("kind", "resource"), [("local", "Local"), ("tollFree", "TollFree"), ("mobile", "Mobile")])
def test_searching_numbers_asks_for_voice_capable_numbers_of_a_kind(twilio_mock, kind, resource):
    numbers = gateway.search_available_numbers(country_code="US", kind=kind, area_code="415", contains="555", limit=5)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("GET", account_path(f"AvailablePhoneNumbers/US/{resource}.json"))
    assert exchange.query_params() == {"AreaCode": "415", "Contains": "555", "VoiceEnabled": "true", "PageSize": "5"}
    assert exchange.form == {}
    # Twilio's own example answer, read into plain values.
    example = json.loads(exchange.answer)["available_phone_numbers"][0]
    assert numbers[0].phone_number == example["phone_number"]
    assert numbers[0].country_code == example["iso_country"]
    assert (numbers[0].voice, numbers[0].sms) == (example["capabilities"]["voice"], example["capabilities"]["sms"])


def test_searching_without_filters_sends_no_empty_filters(twilio_mock):
    gateway.search_available_numbers(country_code="GB")

    exchange = only_exchange(twilio_mock)
    assert exchange.path == account_path("AvailablePhoneNumbers/GB/Local.json")
    assert exchange.query_params() == {"VoiceEnabled": "true", "PageSize": "20"}


def test_the_contract_rejects_what_twilio_would_reject(twilio_mock):
    """The peer is strict: updating a participant needs the conference's CF SID, not its name."""
    with pytest.raises(gateway.GatewayError) as failure:
        gateway.set_participant_hold(conference_sid="call-7", call_sid=CALLER_LEG, hold=True)

    assert twilio_mock.exchanges[0].status == 422
    assert failure.value.twilio_status == 422


def test_every_public_gateway_function_has_a_contract_test():
    """A function added to the gateway without a test calling it in this file fails here.

    Read from the gateway's source, not from the imported module: a mock another test left on the module would hide
    a function from inspect (and that has happened)."""
    tree = ast.parse(Path(inspect.getfile(gateway)).read_text())
    public = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and node.name != "client"
    }
    called_here = set(re.findall(r"gateway\.(\w+)\(", Path(__file__).read_text()))
    assert public - called_here == set()


# --- The account's numbers and the softphone's application (issue 15) ----------------------------------------
NUMBER_SID = "PN" + "b" * 32
APP_SID = "AP" + "c" * 32
URLS = gateway.NumberUrls(
    voice_url="https://voice.example.com/voicetwilio/voice",
    voice_fallback_url="https://voice.example.com/voicetwilio/fallback",
    status_callback="https://voice.example.com/voicetwilio/statuscallback#rc=3&rp=ct,rt,5xx",
)
URL_FORM = {
    "VoiceUrl": URLS.voice_url,
    "VoiceMethod": "POST",
    "VoiceFallbackUrl": URLS.voice_fallback_url,
    "VoiceFallbackMethod": "POST",
    "StatusCallback": URLS.status_callback,
    "StatusCallbackMethod": "POST",
}


def test_finding_an_account_number_filters_by_phone_number(twilio_mock):
    gateway.find_incoming_number(phone_number="+14155550100")

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("GET", account_path("IncomingPhoneNumbers.json"))
    assert exchange.query_params() == {"PhoneNumber": "+14155550100", "PageSize": "20"}


def test_listing_the_account_numbers_sends_no_filter(twilio_mock):
    numbers = gateway.list_incoming_numbers()

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("GET", account_path("IncomingPhoneNumbers.json"))
    assert exchange.query_params() == {"PageSize": "1000"}
    example = json.loads(exchange.answer)["incoming_phone_numbers"][0]
    assert numbers[0].sid == example["sid"] and numbers[0].phone_number == example["phone_number"]


def test_configuring_a_number_sends_the_three_urls_in_one_update(twilio_mock):
    gateway.configure_incoming_number(sid=NUMBER_SID, urls=URLS)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path(f"IncomingPhoneNumbers/{NUMBER_SID}.json"))
    assert exchange.params() == URL_FORM


def test_buying_a_number_sets_its_urls_at_once(twilio_mock):
    gateway.buy_number(phone_number="+14155550123", urls=URLS, friendly_name="Support")

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path("IncomingPhoneNumbers.json"))
    assert exchange.params() == {"PhoneNumber": "+14155550123", "FriendlyName": "Support", **URL_FORM}


def test_releasing_a_number_deletes_it(twilio_mock):
    gateway.release_number(sid=NUMBER_SID)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("DELETE", account_path(f"IncomingPhoneNumbers/{NUMBER_SID}.json"))
    assert exchange.form == {}


def test_fetching_the_softphone_application_by_sid(twilio_mock):
    app = gateway.fetch_application(sid=APP_SID)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("GET", account_path(f"Applications/{APP_SID}.json"))
    assert app is not None and app.sid.startswith("AP")


def test_finding_an_application_filters_by_friendly_name(twilio_mock):
    gateway.find_application(friendly_name="Voice softphone")

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("GET", account_path("Applications.json"))
    assert exchange.query_params() == {"FriendlyName": "Voice softphone", "PageSize": "20"}


def test_creating_the_softphone_application_names_its_voice_url(twilio_mock):
    gateway.create_application(friendly_name="Voice softphone", voice_url=URLS.voice_url)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path("Applications.json"))
    assert exchange.params() == {"FriendlyName": "Voice softphone", "VoiceUrl": URLS.voice_url, "VoiceMethod": "POST"}


def test_setting_the_application_voice_url(twilio_mock):
    gateway.set_application_voice_url(sid=APP_SID, voice_url=URLS.voice_url)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path(f"Applications/{APP_SID}.json"))
    assert exchange.params() == {"VoiceUrl": URLS.voice_url, "VoiceMethod": "POST"}


# --- Recording and supervision (issue 18) ---------------------------------------------------------------------------
RECORDING_SID = "RE" + "d" * 32
RECORDING_CALLBACK = "https://voice.example.com/voicetwilio/recordingcallback?callSid=CA1&kind=call#rc=5"


def test_starting_a_recording_records_both_parties_on_two_channels(twilio_mock):
    recording_sid = gateway.start_call_recording(call_sid=CALLER_LEG, status_callback_url=RECORDING_CALLBACK)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path(f"Calls/{CALLER_LEG}/Recordings.json"))
    assert exchange.params() == {
        "RecordingChannels": "dual",
        "RecordingTrack": "both",
        "RecordingStatusCallback": RECORDING_CALLBACK,
        "RecordingStatusCallbackMethod": "POST",
        "RecordingStatusCallbackEvent": ["in-progress", "completed", "absent"],
    }
    assert recording_sid.startswith("RE")


@pytest.mark.parametrize(
    ("state", "form"),
    [
        ("paused", {"Status": "paused", "PauseBehavior": "skip"}),
        ("in-progress", {"Status": "in-progress"}),
        ("stopped", {"Status": "stopped"}),
    ],
)
def test_pausing_resuming_and_stopping_a_recording(twilio_mock, state, form):
    gateway.set_call_recording_state(call_sid=CALLER_LEG, recording_sid=RECORDING_SID, state=state)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == (
        "POST",
        account_path(f"Calls/{CALLER_LEG}/Recordings/{RECORDING_SID}.json"),
    )
    assert exchange.params() == form


def test_deleting_a_recording_deletes_it_at_twilio(twilio_mock):
    assert gateway.delete_recording(recording_sid=RECORDING_SID) is True

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("DELETE", account_path(f"Recordings/{RECORDING_SID}.json"))


def test_fetching_a_recordings_audio_asks_for_the_mp3_with_the_range(twilio_mock):
    """Twilio's description has no media path (it is served as audio, not JSON): the request is the one Twilio
    documents (Recordings/{Sid}.mp3 with Basic auth); the contract server has no such path, which must surface as a
    GatewayError naming Twilio's status, never as audio."""
    with pytest.raises(gateway.GatewayError) as failure:
        gateway.open_recording_media(recording_sid=RECORDING_SID, byte_range="bytes=0-99")

    exchange = only_exchange_any_status(twilio_mock)
    assert (exchange.method, exchange.path) == ("GET", account_path(f"Recordings/{RECORDING_SID}.mp3"))
    assert failure.value.twilio_status == exchange.status


def only_exchange_any_status(mock):
    assert len(mock.exchanges) == 1, [(e.method, e.path) for e in mock.exchanges]
    return mock.exchanges[0]


@pytest.mark.parametrize(
    ("mode", "form"),
    [
        ("listen", {"Muted": "true", "Coaching": "false"}),
        ("whisper", {"Muted": "false", "Coaching": "true", "CallSidToCoach": AGENT_LEG}),
        ("barge", {"Muted": "false", "Coaching": "false"}),
    ],
)
def test_a_supervisor_joins_in_each_mode(twilio_mock, mode, form):
    leg = gateway.add_supervisor(
        conference_sid=CONFERENCE_SID,
        to="client:carol",
        from_="+14155550100",
        mode=mode,
        agent_leg=AGENT_LEG,
        timeout_seconds=30,
    )

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == ("POST", account_path(f"Conferences/{CONFERENCE_SID}/Participants.json"))
    assert exchange.params() == {
        "From": "+14155550100",
        "To": "client:carol",
        "Timeout": "30",
        "Beep": "false",
        "EarlyMedia": "false",
        "EndConferenceOnExit": "false",
        "Label": "supervisor",
        **form,
    }
    assert leg.startswith("CA")
    assert gateway.supervision_settings(mode=mode, agent_leg=AGENT_LEG)["coaching"] is (mode == "whisper")


def test_a_supervisor_changes_mode_in_place(twilio_mock):
    gateway.set_supervisor_mode(conference_sid=CONFERENCE_SID, call_sid=CALLER_LEG, mode="whisper", agent_leg=AGENT_LEG)

    exchange = only_exchange(twilio_mock)
    assert (exchange.method, exchange.path) == (
        "POST",
        account_path(f"Conferences/{CONFERENCE_SID}/Participants/{CALLER_LEG}.json"),
    )
    assert exchange.params() == {"Muted": "false", "Coaching": "true", "CallSidToCoach": AGENT_LEG}
