"""When Twilio fails: 4xx and 5xx answers, silence past the timeout, no server, no credentials.

The real gateway talks to a local stand-in for api.twilio.com (TWILIO_API_BASE_URL). Every failure must reach
the client as a 502 (503 when Twilio is not configured) with a message saying what could not be done and
why, and leave the database exactly as it was.
"""

import pytest
from django.test import override_settings

from tests.console_support import connected_call, make_available, snapshot
from tests.contract.servers import HELPER_PORTS, Fault, FaultyTwilio, free_port
from voiceconfig.models import Call
from voicetwilio import gateway

TWILIO_NOT_FOUND = {
    "code": 20404,
    "message": "The requested resource /2010-04-01/Accounts/AC.../Participants/CA....json was not found",
    "more_info": "https://www.twilio.com/docs/errors/20404",
    "status": 404,
}


@pytest.fixture
def twilio():
    server = FaultyTwilio()
    server.start()
    with override_settings(TWILIO_API_BASE_URL=server.url):
        yield server
    server.stop()


@pytest.fixture
def call(agent, line):
    return connected_call(agent=agent, line=line)


def test_a_twilio_error_is_a_502_with_twilios_code_and_message(agent_client, call, twilio):
    twilio.fail("POST", "/Participants/", Fault(404, TWILIO_NOT_FOUND))
    before = snapshot()

    response = agent_client.post(f"/voicetwilio/calls/{call.pk}:onhold")

    assert response.status_code == 502
    assert response.json() == {
        "error": "twilio_error",
        "message": "Twilio refused to put the caller on hold (HTTP 404, error 20404): Unable to update record: "
        + TWILIO_NOT_FOUND["message"],
        "twilioCode": 20404,
        "twilioStatus": 404,
    }
    assert len(twilio.hits) == 1
    assert snapshot() == before


def test_a_twilio_outage_page_is_a_502_naming_the_http_status(agent_client, call, twilio):
    twilio.fail("POST", "/Participants/", Fault(503, "<html><body>Service Unavailable</body></html>"))
    Call.objects.filter(pk=call.pk).update(on_hold=True)
    before = snapshot()

    response = agent_client.post(f"/voicetwilio/calls/{call.pk}:resume")

    assert response.status_code == 502
    assert (
        response.json()["message"] == "Twilio refused to take the caller off hold (HTTP 503): Unable to update record"
    )
    assert "twilioCode" not in response.json()
    assert snapshot() == before


@override_settings(TWILIO_HTTP_TIMEOUT=0.3)
def test_twilio_not_answering_in_time_is_a_502(agent_client, call, twilio):
    twilio.fail("POST", "/Participants/", Fault(200, {}, delay=1.5))
    gateway._client_for.cache_clear()
    before = snapshot()

    response = agent_client.post(f"/voicetwilio/calls/{call.pk}:onhold")

    assert response.status_code == 502
    assert response.json()["message"] == "Twilio did not answer within 0.3 s while trying to put the caller on hold."
    assert snapshot() == before


def test_twilio_unreachable_is_a_502(agent_client, call, db):
    closed = f"http://127.0.0.1:{free_port(HELPER_PORTS)}"
    before = snapshot()

    with override_settings(TWILIO_API_BASE_URL=closed):
        response = agent_client.post(f"/voicetwilio/calls/{call.pk}:onhold")

    assert response.status_code == 502
    assert response.json()["message"].startswith("Twilio could not be reached to put the caller on hold")
    assert snapshot() == before


@override_settings(TWILIO_ACCOUNT_SID="")
def test_without_credentials_call_control_is_503_and_nothing_is_sent(agent_client, call, twilio):
    before = snapshot()

    response = agent_client.post(f"/voicetwilio/calls/{call.pk}:onhold")

    assert response.status_code == 503
    assert response.json()["error"] == "twilio_not_configured"
    assert "TWILIO_ACCOUNT_SID" in response.json()["message"]
    assert twilio.hits == []
    assert snapshot() == before


def test_a_transfer_twilio_refuses_leaves_both_agents_and_the_call_as_they_were(
    agent_client, call, other_agent, twilio
):
    make_available(other_agent)
    twilio.fail(
        "POST", "/Participants.json", Fault(400, {"code": 21220, "message": "Invalid call state", "status": 400})
    )
    before = snapshot()

    response = agent_client.post(
        f"/voicetwilio/calls/{call.pk}:transfer", {"type": "client", "to": "bob"}, format="json"
    )

    assert response.status_code == 502
    assert response.json()["twilioCode"] == 21220
    assert "add a participant" in response.json()["message"]
    assert snapshot() == before


def test_a_transfer_failing_half_way_is_undone_at_twilio_and_here(agent_client, call, other_agent, twilio):
    make_available(other_agent)
    agent_leg = call.agent_call_sid
    twilio.fail("DELETE", f"/Participants/{agent_leg}.json", Fault(500, {"code": 20500, "message": "Internal"}))
    before = snapshot()

    response = agent_client.post(
        f"/voicetwilio/calls/{call.pk}:transfer", {"type": "client", "to": "bob"}, format="json"
    )

    assert response.status_code == 502
    assert "remove a participant" in response.json()["message"]
    assert snapshot() == before
    # The new leg was added, then taken out again, and the agent's leg ends the conference again.
    sent = [(method, path.rsplit("/", 1)[-1], form) for method, path, form in twilio.hits]
    new_leg = "CA" + "e" * 32
    assert sent == [
        ("POST", "Participants.json", sent[0][2]),
        ("POST", f"{agent_leg}.json", {"EndConferenceOnExit": ["false"]}),
        ("DELETE", f"{agent_leg}.json", {}),
        ("POST", f"{agent_leg}.json", {"EndConferenceOnExit": ["true"]}),
        ("DELETE", f"{new_leg}.json", {}),
    ]


def test_a_number_search_twilio_fails_is_a_502(staff_client, twilio):
    twilio.fail("GET", "/AvailablePhoneNumbers/", Fault(500, {"code": 20500, "message": "Internal Server Error"}))

    response = staff_client.get("/voiceconfig/phonenumbers?countryCode=US")

    assert response.status_code == 502
    assert response.json()["message"].startswith("Twilio refused to search available phone numbers (HTTP 500")


def test_a_country_twilio_sells_nothing_in_is_an_empty_list(staff_client, twilio):
    twilio.fail("GET", "/AvailablePhoneNumbers/", Fault(404, TWILIO_NOT_FOUND))

    response = staff_client.get("/voiceconfig/phonenumbers?countryCode=KP")

    assert response.status_code == 200
    assert response.json() == {"phoneNumberList": []}


def test_an_unreadable_answer_is_a_gateway_error(twilio, settings):
    twilio.fail("POST", "/Calls/", Fault(200, "this is not json"))

    with pytest.raises(gateway.GatewayError) as failure:
        gateway.end_call(call_sid="CA" + "1" * 32)

    assert failure.value.message == "Twilio gave an unreadable answer while trying to end the call."
