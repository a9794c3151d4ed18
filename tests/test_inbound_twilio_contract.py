"""What the inbound flow sends to Twilio's REST API, through the real gateway, checked against Twilio's OpenAPI.

The gateway is not mocked here: TWILIO_API_BASE_URL points twilio-python at a fake api.twilio.com (started by the
test) that records each request and answers with Twilio's JSON shapes. Each recorded form is then checked against
the request schema in tests/fixtures/twilio/openapi/twilio_api_v2010.json.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.twilio import openapi
from tests.twilio.servers import fake_twilio
from voiceconfig.models import Call, CallStage
from voicetwilio import gateway

pytestmark = pytest.mark.django_db

if not openapi.available():
    pytest.fail(f"Twilio's OpenAPI description is missing: {openapi.TWILIO_OPENAPI}", pytrace=False)


@pytest.fixture
def twilio_api(settings):
    with fake_twilio(delay=0) as server:
        settings.TWILIO_API_BASE_URL = server.base_url
        gateway._client_for.cache_clear()
        yield server
    gateway._client_for.cache_clear()


def test_ringing_an_agent_sends_a_participant_create_twilio_accepts(twilio, line, online_agent, twilio_api):
    alice = online_agent("alice")
    twilio.incoming(call_sid="CA" + "1" * 32)
    [(path, form)] = twilio_api.participant_creates()
    assert openapi.form_problems(path, form) == []
    assert path.endswith(f"/Conferences/call-{'CA' + '1' * 32}/Participants.json")
    assert form["To"] == f"client:{alice.identity}"
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["EndConferenceOnExit"] == "true"
    call = Call.objects.get()
    assert call.agent_call_sid.startswith("CA") and call.conference_sid.startswith("CF")


def test_sending_a_caller_to_voicemail_sends_a_call_update_twilio_accepts(twilio, line, twilio_api):
    line.config.max_queue_wait_seconds = 5
    line.config.save()
    twilio.incoming(call_sid="CA" + "2" * 32)
    Call.objects.update(queued_at=timezone.now() - timedelta(seconds=6))
    twilio.queue_wait("CA" + "2" * 32)
    [(method, path, form)] = twilio_api.requests
    assert (method, path.rsplit("/", 1)[-1]) == ("POST", f"{'CA' + '2' * 32}.json")
    assert openapi.form_problems(path, form) == []
    assert form == {"Url": f"http://testserver/voicetwilio/voicemail?callSid={'CA' + '2' * 32}", "Method": "POST"}
    assert Call.objects.get().stage == CallStage.VOICEMAIL


def test_cancelling_a_ringing_agent_when_the_caller_hangs_up_sends_a_call_update_twilio_accepts(
    twilio, line, online_agent, twilio_api
):
    online_agent("alice")
    twilio.incoming(call_sid="CA" + "3" * 32)
    leg = Call.objects.get().agent_call_sid
    twilio.status("CA" + "3" * 32, "completed", seq=2)
    method, path, form = twilio_api.requests[-1]
    assert path.endswith(f"/Calls/{leg}.json")
    assert openapi.form_problems(path, form) == []
    assert form == {"Status": "completed"}
