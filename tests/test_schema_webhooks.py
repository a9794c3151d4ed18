"""The Twilio-facing URLs in the OpenAPI document, and real webhook answers checked against what it says."""

import pytest
import requests
from django.test import Client
from django.urls import reverse

from tests.twilio.payloads import sid
from tests.twilio.signing import signed_post
from voiceconfig.models import CallStatus
from voicetwilio.webhook_urls import urlpatterns as webhook_urlpatterns
from voicetwilio.webhooks import views

# Read from webhook_urls.py, so a new webhook without documentation fails here.
WEBHOOK_PATHS = [f"/voicetwilio/{pattern.pattern}" for pattern in webhook_urlpatterns]
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def form_of(schema: dict, path: str) -> dict:
    return resolve(schema, schema["paths"][path]["post"]["requestBody"]["content"][FORM]["schema"])


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_every_twilio_facing_url_is_a_signed_form_post_answering_twiml_or_json(schema, path):
    operation = schema["paths"][path]["post"]

    assert list(operation["requestBody"]["content"]) == [FORM]
    headers = [parameter for parameter in operation["parameters"] if parameter["in"] == "header"]
    assert [(header["name"], header["required"]) for header in headers] == [("X-Twilio-Signature", True)]
    responses = operation["responses"]
    assert set(responses["200"]["content"]) == {"text/xml", "application/json"}
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TwimlEnvelope")
    for code in ("403", "503"):
        assert set(responses[code]["content"]) == {"text/xml", "application/json"}, code
        assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), code
    assert resolve(schema, responses["200"]["content"]["application/json"]["schema"])["required"] == ["data"]


def test_the_specs_three_webhooks_take_twilios_names_and_the_specs(schema):
    twilio_names = {"CallSid", "From", "To", "CallStatus"}
    spec_names = {"callSid", "from", "to", "callStatus"}
    for path in ("/voicetwilio/voice", "/voicetwilio/statuscallback", "/voicetwilio/gather"):
        form = form_of(schema, path)
        assert twilio_names | spec_names <= set(form["properties"]), path
        # Required as Twilio always sends them; the spec's spellings are the alternative, so optional.
        assert set(form["required"]) == {"AccountSid", "CallSid", "From", "To", "CallStatus", "ApiVersion", "Direction"}
    gather = form_of(schema, "/voicetwilio/gather")["properties"]
    assert {"Digits", "SpeechResult", "FinishedOnKey", "digits", "speechResult", "finishedOnKey"} <= set(gather)


def test_call_status_is_documented_as_the_specs_enum_with_the_400_it_gets_otherwise(schema):
    for path in ("/voicetwilio/statuscallback", "/voicetwilio/gather"):
        status = form_of(schema, path)["properties"]["CallStatus"]
        assert resolve(schema, status["allOf"][0])["enum"] == CallStatus.values
        bad = schema["paths"][path]["post"]["responses"]["400"]["content"]
        assert bad["application/json"]["schema"]["$ref"].endswith("/ValidationError")
        assert "text/xml" in bad
    # The fallback never refuses: it is the caller's last resort.
    assert "400" not in schema["paths"]["/voicetwilio/fallback"]["post"]["responses"]


def test_the_forms_document_every_field_the_views_read(schema):
    assert set(views.CALLBACK_FIELDS) <= set(form_of(schema, "/voicetwilio/statuscallback")["properties"])
    assert set(views.CALLBACK_FIELDS) <= set(form_of(schema, "/voicetwilio/participantcallback")["properties"])
    assert set(views.CONFERENCE_FIELDS) <= set(form_of(schema, "/voicetwilio/conferencecallback")["properties"])
    assert set(views.RECORDING_FIELDS) <= set(form_of(schema, "/voicetwilio/recordingcallback")["properties"])
    assert {"DialCallSid", "DialCallStatus", "DialCallDuration"} <= set(
        form_of(schema, "/voicetwilio/dialcallback")["properties"]
    )


# --- the document against the server: what a documented request really gets -------------------------------

SAMPLE_VALUES = {
    "AccountSid": sid("AC", 1),
    "CallSid": sid("CA", 0xD0C),
    "From": "+14155550111",
    "To": "+14155550100",
    "ApiVersion": "2010-04-01",
    "Direction": "inbound",
    "ConferenceSid": sid("CF", 1),
    "FriendlyName": f"call-{sid('CA', 0xD0C)}",
    "SequenceNumber": "1",
    "Timestamp": "Tue, 14 Jun 2022 18:06:47 +0000",
    "RecordingSid": sid("RE", 1),
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
}


def documented_request(schema: dict, path: str) -> tuple[dict, dict]:
    """The form of only the required fields (an enum's first value), and the required query parameters."""
    form = form_of(schema, path)
    body = {}
    for name in form.get("required", []):
        field = form["properties"][name]
        enum = resolve(schema, field["allOf"][0]).get("enum") if "allOf" in field else field.get("enum")
        body[name] = enum[0] if enum else SAMPLE_VALUES[name]
    parameters = schema["paths"][path]["post"]["parameters"]
    query = {p["name"]: sid("CA", 0xD0C) for p in parameters if p["in"] == "query" and p.get("required")}
    return body, query


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["", "application/json"])
@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_a_documented_request_gets_a_documented_status_and_content_type(schema, client, path, accept, line):
    body, query = documented_request(schema, path)
    responses = schema["paths"][path]["post"]["responses"]

    signed = signed_post(client, path, body, query=query, accept=accept)
    unsigned = client.post(path, body, HTTP_ACCEPT=accept) if accept else client.post(path, body)

    assert signed.status_code == 200, signed.content
    assert unsigned.status_code == 403
    for response in (signed, unsigned):
        media_type = response["Content-Type"].split(";")[0]
        assert media_type in responses[str(response.status_code)]["content"]
        assert media_type == (accept or "text/xml")


# --- the fuzzer's signing (bench/schemathesis_hooks.py) matches the server's check -------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"callSid": sid("CA", 7)}, {"CallSid": sid("CA", 7), "CallStatus": "completed", "From": "+14155550111"}),
        # What a fuzzer sends: spaces, plus signs, ampersands, non-ASCII, repeated and empty fields.
        ({"callSid": "a b+c&d", "x": "ü"}, {"CallSid": "CA 1+2&3=4", "Digits": ["1", "#", ""], "名前": "ü%20"}),
        ({}, {}),
    ],
)
def test_the_fuzzers_signature_is_the_one_the_server_accepts(client, line, settings, query, fields):
    from bench.schemathesis_hooks import sign

    url = f"http://testserver{reverse('statuscallback')}"
    prepared = requests.Request("POST", url, params=query, data=fields).prepare()
    body = prepared.body or ""
    form = "application/x-www-form-urlencoded"

    signed = client.generic(
        "POST",
        prepared.path_url,
        body,
        content_type=form,
        HTTP_X_TWILIO_SIGNATURE=sign(prepared, settings.TWILIO_AUTH_TOKEN),
    )
    forged = client.generic(
        "POST", prepared.path_url, body, content_type=form, HTTP_X_TWILIO_SIGNATURE=sign(prepared, "not-the-token")
    )

    assert signed.status_code == 200, signed.content
    assert forged.status_code == 403
