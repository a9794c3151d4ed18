"""The console endpoints end to end: REST request in, Twilio's contract checked on every request going out."""

from django.conf import settings

from tests.console_support import CONFERENCE_SID, connected_call, make_available
from voiceconfig.models import Call
from voicetwilio.links import RETRY_OVERRIDES


def assert_accepted(mock) -> None:
    rejected = [(e.method, e.path, e.status, e.answer[:300]) for e in mock.exchanges if e.status >= 400]
    assert rejected == []


def test_hold_and_resume_send_exactly_what_twilio_documents(agent_client, agent, line, twilio_mock):
    call = connected_call(agent=agent, line=line)
    conference = f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Conferences/{CONFERENCE_SID}"
    participant = f"{conference}/Participants/{call.call_sid}.json"

    assert agent_client.post(f"/voicetwilio/calls/{call.pk}:onhold").status_code == 200
    assert agent_client.post(f"/voicetwilio/calls/{call.call_sid}:resume").status_code == 200

    assert_accepted(twilio_mock)
    assert [(e.method, e.path, e.params()) for e in twilio_mock.exchanges] == [
        ("POST", participant, {"Hold": "true", "HoldUrl": line.config.hold_music_url, "HoldMethod": "GET"}),
        ("POST", participant, {"Hold": "false"}),
    ]


def test_a_cold_transfer_to_an_agent_is_three_requests_twilio_accepts(
    agent_client, agent, other_agent, line, twilio_mock
):
    call = connected_call(agent=agent, line=line)
    make_available(other_agent)
    conference = f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Conferences/{CONFERENCE_SID}"

    response = agent_client.post(
        f"/voicetwilio/calls/{call.pk}:transfer", {"type": "client", "to": "bob"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert_accepted(twilio_mock)
    add, keep_conference, remove = twilio_mock.exchanges
    assert (add.method, add.path) == ("POST", f"{conference}/Participants.json")
    assert add.params() == {
        "From": line.phone_number,
        "To": "client:bob",
        "Timeout": str(line.config.ring_timeout_seconds),
        "StatusCallback": (
            f"http://testserver/voicetwilio/participantcallback?callSid={call.call_sid}"
            f"&transfer={call.transfers.get().pk}&agent={other_agent.pk}#{RETRY_OVERRIDES}"
        ),
        "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "EarlyMedia": "true",
        "Beep": "false",
        "EndConferenceOnExit": "true",
        "Label": "agent",
    }
    assert (keep_conference.method, keep_conference.path, keep_conference.params()) == (
        "POST",
        f"{conference}/Participants/{call.agent_call_sid}.json",
        {"EndConferenceOnExit": "false"},
    )
    assert (remove.method, remove.path, remove.form) == (
        "DELETE",
        f"{conference}/Participants/{call.agent_call_sid}.json",
        {},
    )
    # The new leg's SID is the one Twilio's example answer carries.
    assert Call.objects.get(pk=call.pk).agent_call_sid == response.json()["transfer"]["participantCallSid"]


def test_number_search_asks_twilio_for_voice_numbers(staff_client, twilio_mock):
    response = staff_client.get("/voiceconfig/phonenumbers?countryCode=US&areaCode=510&contains=555&type=local")

    assert response.status_code == 200
    assert_accepted(twilio_mock)
    [search] = twilio_mock.exchanges
    assert search.path == f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/AvailablePhoneNumbers/US/Local.json"
    assert search.query_params() == {"AreaCode": "510", "Contains": "555", "VoiceEnabled": "true", "PageSize": "20"}
    assert response.json()["phoneNumberList"][0]["phoneNumber"] == "+18089251571"  # Twilio's example


def test_hangup_ends_the_callers_leg_and_the_conference_as_twilio_documents(agent_client, agent, line, twilio_mock):
    call = connected_call(agent=agent, line=line)
    account = f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}"

    response = agent_client.post(f"/voicetwilio/calls/{call.pk}:hangup")

    assert response.status_code == 200, response.json()
    assert_accepted(twilio_mock)
    assert [(e.method, e.path, e.params()) for e in twilio_mock.exchanges] == [
        ("POST", f"{account}/Calls/{call.call_sid}.json", {"Status": "completed"}),
        ("POST", f"{account}/Conferences/{CONFERENCE_SID}.json", {"Status": "completed"}),
    ]
    assert Call.objects.get(pk=call.pk).status == "completed"
