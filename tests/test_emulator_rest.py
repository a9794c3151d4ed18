"""The emulator's Twilio REST API: the project's own gateway works against it unchanged, and every answer has
Twilio's shape (checked against Twilio's OpenAPI description) and Twilio's errors."""

import json
import os

import jsonschema
import pytest
import requests

from tests.twilio.openapi import TWILIO_OPENAPI as OPENAPI  # Twilio's own description, vendored in tests/fixtures
from twilio_emulator.appserver import free_port
from twilio_emulator.factory import Credentials, build
from twilio_emulator.people import Directory, Person, Ring, RingPlan
from voicetwilio import gateway

CREDENTIALS = Credentials()
ACCOUNT = CREDENTIALS.account_sid
AUTH = (CREDENTIALS.account_sid, CREDENTIALS.auth_token)


@pytest.fixture(scope="module")
def spec() -> dict:
    if not OPENAPI.exists():
        if os.environ.get("REQUIRE_TWILIO_CONTRACT"):
            pytest.fail(f"Twilio's OpenAPI description is missing: {OPENAPI}")
        pytest.skip(f"Twilio's OpenAPI description is not on this machine ({OPENAPI})")
    return json.loads(OPENAPI.read_text())


def schema_of(spec: dict, path: str, method: str, status: str) -> dict:
    """The JSON Schema of one response: $refs inlined, OpenAPI's `nullable` turned into a null type."""
    components = spec["components"]["schemas"]

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = convert(components[node["$ref"].rsplit("/", 1)[1]])
            if "enum" in target:
                # Twilio's generator drops `nullable` on enum references, yet documents them as null at times
                # (reason_conference_ended "will be `null`" while the conference is in progress).
                target = {**target, "type": [target["type"], "null"], "enum": [*target["enum"], None]}
            return target
        out = {key: convert(value) for key, value in node.items() if key not in ("nullable", "examples", "example")}
        if node.get("nullable") and "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        return out

    operation = spec["paths"][f"/2010-04-01/Accounts/{{AccountSid}}{path}"][method]
    return convert(operation["responses"][status]["content"]["application/json"]["schema"])


def assert_twilio_shape(spec: dict, data: dict, path: str, method: str, status: str) -> None:
    schema = schema_of(spec, path, method, status)
    jsonschema.validate(data, schema)
    if "properties" in schema and not any(key.endswith("s") and isinstance(data.get(key), list) for key in data):
        # A resource: exactly Twilio's fields, none missing and none invented.
        assert set(data) == set(schema["properties"])


@pytest.fixture
def emulator():
    people = {
        "client:alice": Person("alice", rings=[Ring(RingPlan(answer_after=2))]),
        "client:bob": Person("bob", rings=[Ring(RingPlan())]),
    }
    server = build(
        app_url="http://127.0.0.1:9",  # nothing listens: these tests talk to the REST API only
        credentials=CREDENTIALS,
        port=free_port(8500, 8549),
        directory=Directory(people),
    ).start()
    # Virtual time stands still while this test counts as running: calls stay where the requests put them.
    with server.world.clock.running():
        yield server
    server.stop()


@pytest.fixture
def twilio_settings(settings, emulator):
    """The only change the project needs: TWILIO_API_BASE_URL (plus credentials the emulator accepts)."""
    settings.TWILIO_API_BASE_URL = emulator.url
    settings.TWILIO_ACCOUNT_SID = CREDENTIALS.account_sid
    settings.TWILIO_AUTH_TOKEN = CREDENTIALS.auth_token
    settings.TWILIO_API_KEY_SID = CREDENTIALS.api_key_sid
    settings.TWILIO_API_KEY_SECRET = CREDENTIALS.api_key_secret
    return settings


def api(emulator, path: str) -> str:
    return f"{emulator.url}/2010-04-01/Accounts/{ACCOUNT}{path}"


def request(emulator, method: str, path: str, **kwargs) -> requests.Response:
    """`method` on `path` under the test account, authenticated as the twilio library authenticates."""
    return requests.request(method, api(emulator, path), auth=AUTH, timeout=5, **kwargs)


def test_the_gateway_adds_holds_and_removes_a_participant_through_the_emulator(twilio_settings, emulator):
    participant = gateway.add_participant(
        conference_name="call-42",
        to="client:alice",
        from_="+14155550100",
        status_callback_url="http://127.0.0.1:9/voicetwilio/participantcallback",
        timeout_seconds=20,
        label="agent",
        end_conference_on_exit=True,
    )

    assert participant.call_sid.startswith("CA") and len(participant.call_sid) == 34
    assert participant.conference_sid.startswith("CF") and len(participant.conference_sid) == 34
    world = emulator.world
    conference = world.conferences[participant.conference_sid]
    assert conference.friendly_name == "call-42"
    joined = conference.participants[participant.call_sid]
    assert joined.end_on_exit is True and joined.label == "agent"
    assert world.calls[participant.call_sid].status_callback_events == {"initiated", "ringing", "answered", "completed"}

    gateway.set_participant_hold(
        conference_sid=participant.conference_sid,
        call_sid=participant.call_sid,
        hold=True,
        hold_url="http://example.com/music.mp3",
    )
    assert joined.hold is True and joined.hold_url == "http://example.com/music.mp3" and joined.hold_method == "GET"
    gateway.set_participant_ends_conference(
        conference_sid=participant.conference_sid, call_sid=participant.call_sid, end_conference_on_exit=False
    )
    assert joined.end_on_exit is False

    gateway.remove_participant(conference_sid=participant.conference_sid, call_sid=participant.call_sid)
    assert joined.kicked == "api"


def test_the_gateway_redirects_and_ends_calls(twilio_settings, emulator):
    created = request(
        emulator,
        "POST",
        "/Calls.json",
        data={"To": "client:alice", "From": "+14155550100", "Url": "http://127.0.0.1:9/voicetwilio/voice"},
    )
    assert created.status_code == 201
    sid = created.json()["sid"]

    gateway.redirect_call(call_sid=sid, url="http://127.0.0.1:9/voicetwilio/voicemail")
    call = emulator.world.calls[sid]
    assert (call.url, call.method) == ("http://127.0.0.1:9/voicetwilio/voicemail", "POST")

    gateway.end_call(call_sid=sid)
    assert call.hangup == "api"


def test_the_gateway_finds_numbers_for_sale(twilio_settings):
    local = gateway.search_available_numbers(country_code="US", kind="local", area_code="212")
    assert local and all(number.phone_number.startswith("+1212555") for number in local)
    assert all(number.voice and number.sms and number.country_code == "US" for number in local)

    toll_free = gateway.search_available_numbers(country_code="US", kind="tollFree", contains="888")
    assert toll_free and all("888" in number.phone_number for number in toll_free)

    british_mobiles = gateway.search_available_numbers(country_code="GB", kind="mobile", limit=3)
    assert [number.phone_number[:9] for number in british_mobiles] == ["+44770090"] * 3

    # Twilio sells no mobile numbers in the US: it answers 404, which the gateway reads as "none".
    assert gateway.search_available_numbers(country_code="US", kind="mobile") == []


def test_contains_accepts_letters_as_keypad_digits_and_star_wildcards(emulator):
    def search(contains: str) -> list[dict]:
        found = request(emulator, "GET", "/AvailablePhoneNumbers/US/Local.json", params={"Contains": contains})
        return found.json()["available_phone_numbers"]

    found = search("555*15")
    assert found and all("15" in number["phone_number"][-4:] for number in found)
    keypad = search("JKL")
    assert keypad and all("555" in number["phone_number"] for number in keypad)


def test_calls_conferences_participants_and_numbers_have_twilios_json_shape(spec, emulator):
    created = request(
        emulator,
        "POST",
        "/Calls.json",
        data={"To": "client:bob", "From": "+14155550100", "Twiml": "<Response><Say>Hi</Say></Response>"},
    )
    assert created.status_code == 201
    assert_twilio_shape(spec, created.json(), "/Calls.json", "post", "201")
    sid = created.json()["sid"]
    fetched = request(emulator, "GET", f"/Calls/{sid}.json")
    assert_twilio_shape(spec, fetched.json(), "/Calls/{Sid}.json", "get", "200")
    listed = request(emulator, "GET", "/Calls.json")
    assert_twilio_shape(spec, listed.json(), "/Calls.json", "get", "200")

    participant = request(
        emulator,
        "POST",
        "/Conferences/room-1/Participants.json",
        data={"To": "client:bob", "From": "+14155550100", "Label": "agent"},
    )
    assert participant.status_code == 201
    assert_twilio_shape(spec, participant.json(), "/Conferences/{ConferenceSid}/Participants.json", "post", "201")
    conference_sid, call_sid = participant.json()["conference_sid"], participant.json()["call_sid"]
    conferences = request(emulator, "GET", "/Conferences.json", params={"FriendlyName": "room-1"}).json()
    assert_twilio_shape(spec, conferences, "/Conferences.json", "get", "200")
    assert [c["sid"] for c in conferences["conferences"]] == [conference_sid]
    conference = request(emulator, "GET", f"/Conferences/{conference_sid}.json")
    assert_twilio_shape(spec, conference.json(), "/Conferences/{Sid}.json", "get", "200")
    by_label = request(
        emulator, "POST", f"/Conferences/{conference_sid}/Participants/agent.json", data={"Muted": "true"}
    )
    assert by_label.status_code == 200 and by_label.json()["muted"] is True and by_label.json()["call_sid"] == call_sid
    assert_twilio_shape(
        spec, by_label.json(), "/Conferences/{ConferenceSid}/Participants/{CallSid}.json", "post", "200"
    )
    participants = request(emulator, "GET", f"/Conferences/{conference_sid}/Participants.json")
    assert_twilio_shape(spec, participants.json(), "/Conferences/{ConferenceSid}/Participants.json", "get", "200")
    removed = request(emulator, "DELETE", f"/Conferences/{conference_sid}/Participants/{call_sid}.json")
    assert removed.status_code == 204 and removed.content == b""

    for kind in ("Local", "TollFree"):
        numbers = request(emulator, "GET", f"/AvailablePhoneNumbers/US/{kind}.json")
        assert_twilio_shape(spec, numbers.json(), f"/AvailablePhoneNumbers/{{CountryCode}}/{kind}.json", "get", "200")
    mobiles = request(emulator, "GET", "/AvailablePhoneNumbers/GB/Mobile.json")
    assert_twilio_shape(spec, mobiles.json(), "/AvailablePhoneNumbers/{CountryCode}/Mobile.json", "get", "200")


def test_wrong_credentials_get_twilios_401_and_an_api_key_is_accepted(emulator):
    refused = requests.get(api(emulator, "/Calls.json"), auth=(ACCOUNT, "wrong"), timeout=5)
    assert refused.status_code == 401
    assert refused.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert requests.get(api(emulator, "/Calls.json"), timeout=5).status_code == 401
    with_key = requests.get(
        api(emulator, "/Calls.json"), auth=(CREDENTIALS.api_key_sid, CREDENTIALS.api_key_secret), timeout=5
    )
    assert with_key.status_code == 200


def test_unknown_sids_are_404_and_bad_requests_400_with_twilio_error_codes(emulator):
    missing = request(emulator, "GET", f"/Calls/CA{'0' * 32}.json")
    assert missing.status_code == 404
    assert missing.json()["code"] == 20404 and missing.json()["status"] == 404
    assert missing.json()["more_info"] == "https://www.twilio.com/docs/errors/20404"

    no_to = request(emulator, "POST", "/Calls.json", data={"From": "+14155550100"})
    assert no_to.status_code == 400 and no_to.json()["code"] == 21201

    no_url = request(emulator, "POST", "/Calls.json", data={"From": "+14155550100", "To": "+14155550101"})
    assert no_url.status_code == 400 and no_url.json()["code"] == 21205

    # Only adding a participant may name the conference by its friendly name; changing one needs the CF SID.
    by_name = request(emulator, "POST", f"/Conferences/room-1/Participants/CA{'1' * 32}.json", data={"Hold": "true"})
    assert by_name.status_code == 404

    other_account = requests.get(f"{emulator.url}/2010-04-01/Accounts/AC{'f' * 32}/Calls.json", auth=AUTH, timeout=5)
    assert other_account.status_code == 404


def test_redirecting_a_finished_call_is_refused_as_twilio_does(emulator):
    created = request(
        emulator, "POST", "/Calls.json", data={"To": "client:bob", "From": "+14155550100", "Twiml": "<Response/>"}
    ).json()
    call = emulator.world.calls[created["sid"]]
    with emulator.world.lock:
        call.status = "completed"
    refused = request(emulator, "POST", f"/Calls/{created['sid']}.json", data={"Url": "http://127.0.0.1:9/x"})
    assert refused.status_code == 400
    assert refused.json()["code"] == 21220
