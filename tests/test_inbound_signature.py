"""Decision 2: every Twilio-facing URL checks X-Twilio-Signature, always; decision 3: never a 500."""

import hashlib
import json
import xml.etree.ElementTree as ET

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.twilio.signing import WEBHOOK_NAMES, signed_post, twilio_signature

CALL = {"CallSid": "CA" + "a" * 32, "From": "+14155550111", "To": "+14155550100", "CallStatus": "ringing"}


@pytest.mark.parametrize("name", WEBHOOK_NAMES)
def test_rejects_unsigned_request(client, db, name):
    response = client.post(reverse(name), CALL)
    assert response.status_code == 403
    assert ET.fromstring(response.content).tag == "Response"


@pytest.mark.parametrize("name", WEBHOOK_NAMES)
def test_rejects_request_signed_with_another_token(client, db, name):
    response = signed_post(client, reverse(name), CALL, token="not-our-token")
    assert response.status_code == 403


def test_rejects_a_signature_for_other_parameters(client, db):
    signed = signed_post(client, reverse("voice"), CALL)
    assert signed.status_code == 200
    forged = client.post(
        reverse("voice"),
        {**CALL, "From": "+14155550999"},
        HTTP_X_TWILIO_SIGNATURE=signed.request["HTTP_X_TWILIO_SIGNATURE"],
    )
    assert forged.status_code == 403


@override_settings(DEBUG=True)
def test_checks_signatures_in_debug_too(client, db):
    assert client.post(reverse("voice"), CALL).status_code == 403


def test_refusal_is_json_for_a_json_client(client, db):
    response = client.post(reverse("voice"), CALL, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"


@override_settings(TWILIO_WEBHOOK_BASE_URL="https://voice.example.com")
def test_signed_url_is_the_public_one_behind_a_proxy(client, db):
    assert signed_post(client, reverse("voice"), CALL, base_url="https://voice.example.com").status_code == 200
    assert signed_post(client, reverse("voice"), CALL).status_code == 403


def test_the_signing_helper_reproduces_twilios_documented_example():
    # Twilio's security docs: this URL, these parameters and auth token 12345 sign to this value.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature(url, params, token="12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_a_json_body_is_accepted_when_signed_with_its_body_hash(client, db, line):
    body = json.dumps({"callSid": "CA" + "b" * 32, "from": "+14155550111", "to": "+14155550100"})
    path = f"{reverse('voice')}?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"
    signature = twilio_signature(f"http://testserver{path}", {})
    response = client.post(
        path, body, content_type="application/json", HTTP_X_TWILIO_SIGNATURE=signature, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    assert "<Dial>" in response.json()["data"]


def test_a_json_body_without_its_hash_in_the_signed_url_is_refused(client, db, line):
    body = json.dumps({"callSid": "CA" + "b" * 32, "to": "+14155550100"})
    signature = twilio_signature(f"http://testserver{reverse('voice')}", {})
    response = client.post(reverse("voice"), body, content_type="application/json", HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403


def test_a_json_body_that_does_not_match_its_signed_hash_is_refused(client, db, line):
    signed_body = json.dumps({"callSid": "CA" + "b" * 32, "to": "+14155550100"})
    path = f"{reverse('voice')}?bodySHA256={hashlib.sha256(signed_body.encode()).hexdigest()}"
    signature = twilio_signature(f"http://testserver{path}", {})
    tampered = signed_body.replace("0100", "0199")
    response = client.post(path, tampered, content_type="application/json", HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403


@pytest.mark.parametrize("query", ["?bodySHA256", "?bodySHA256=", "?bodySHA256=&bodySHA256="])
def test_an_empty_body_hash_with_a_json_body_is_refused_not_a_500(client, db, line, query):
    # Finding 8: `?bodySHA256` with no value used to reach twilio-python's validate() with a str body: a 500.
    body = json.dumps({"callSid": "CA" + "b" * 32, "to": "+14155550100"})
    path = f"{reverse('voice')}{query}"
    signature = twilio_signature(f"http://testserver{path}", {})
    response = client.post(path, body, content_type="application/json", HTTP_X_TWILIO_SIGNATURE="anything")
    assert response.status_code == 403
    response = client.post(path, body, content_type="application/json", HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
