"""An unhandled exception answers the client's language, DEBUG on or off (issue 12 item 1).

API and console paths: the JSON envelope {"error": "server_error", "message"}; Twilio's webhooks: valid TwiML;
never Django's HTML debug page. The views below raise what no handler expects; they are mounted on real paths
(the webhook one on /voicetwilio/voice, without the webhook guard, as if the guard itself had failed).
"""

from xml.etree import ElementTree

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from voice_project.urls import handler404, handler500  # noqa: F401
from voice_project.urls import urlpatterns as project_urlpatterns


class ExplodingApiView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("an API view failed in a way nobody handled")


def exploding_view(request: HttpRequest):
    raise RuntimeError("a plain view failed in a way nobody handled")


urlpatterns = [
    path("voiceconfig/explode", ExplodingApiView.as_view()),
    path("console/explode", exploding_view),
    path("voicetwilio/voice", exploding_view),
    path("voicetwilio/statuscallback", exploding_view),
    path("admin/explode", exploding_view),
    *project_urlpatterns,
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]
DEBUG_ON_AND_OFF = pytest.mark.parametrize("debug", [True, False], ids=["debug-on", "debug-off"])


@pytest.fixture
def client() -> Client:
    # As a real server answers: the exception becomes a response instead of being raised into the test.
    return Client(raise_request_exception=False)


@DEBUG_ON_AND_OFF
@pytest.mark.parametrize("url", ["/voiceconfig/explode", "/console/explode"])
def test_an_unhandled_exception_on_api_and_console_paths_is_the_json_envelope(client, settings, debug, url):
    settings.DEBUG = debug

    response = client.get(url, HTTP_ACCEPT="text/html,application/json")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "server_error",
        "message": "Something went wrong on our side; it has been logged.",
    }
    assert b"Traceback" not in response.content and b"nobody handled" not in response.content


@DEBUG_ON_AND_OFF
@pytest.mark.parametrize("url", ["/voicetwilio/voice", "/voicetwilio/statuscallback"])
def test_an_unhandled_exception_on_a_webhook_is_valid_twiml(client, settings, debug, url):
    settings.DEBUG = debug

    response = client.post(url, {"CallSid": "CA" + "0" * 32, "CallStatus": "ringing"})

    assert response.status_code == 500  # Twilio then asks the line's fallback URL, or retries the callback
    assert response["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response"
    assert "something went wrong" in root.findtext("Say").lower()
    assert root.find("Hangup") is not None


@DEBUG_ON_AND_OFF
def test_a_webhook_client_asking_for_json_gets_the_twiml_in_the_specs_envelope(client, settings, debug):
    settings.DEBUG = debug

    response = client.post("/voicetwilio/voice", {"CallSid": "CA" + "0" * 32}, HTTP_ACCEPT="application/json")

    assert response.status_code == 500
    assert ElementTree.fromstring(response.json()["data"]).tag == "Response"


def test_the_admin_keeps_djangos_debug_page_for_the_developer(client, settings):
    settings.DEBUG = True

    response = client.get("/admin/explode")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"nobody handled" in response.content


def test_the_exception_is_still_logged_with_its_traceback(client, settings, caplog):
    settings.DEBUG = True

    client.get("/voiceconfig/explode")

    errors = [record for record in caplog.records if record.name == "django.request" and record.levelname == "ERROR"]
    assert errors and errors[0].exc_info and "nobody handled" in str(errors[0].exc_info[1])
