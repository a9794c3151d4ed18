"""The fallback URL answers from its own signed query string, and a database failure is answered 503 (docs/webhooks.md).

The real outage (PostgreSQL behind a TCP proxy that is cut) is tests/test_outage.py; these tests pin down each
answer on its own.
"""

import logging
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db import IntegrityError, InterfaceError, OperationalError

from tests.twilio.fixtures import twiml_of, verbs
from tests.twilio.payloads import payload
from tests.twilio.signing import signed_post, twilio_signature
from twilio_emulator.webhooks import WebhookClient
from voiceconfig.models import CallLog, PhoneLine, VoiceConfig
from voicetwilio.links import RETRY_OVERRIDES, webhook_url
from voicetwilio.webhooks.fallback import fallback_url

CALL_SID = "CA" + "d" * 32


@pytest.fixture
def line(db) -> PhoneLine:
    config = VoiceConfig.objects.create(name="Support", voice="Polly.Brian", language="en-GB", voicemail_max_seconds=60)
    return PhoneLine.objects.create(name="Main", phone_number="+14155550100", config=config)


def post_fallback(client, url: str, **fields):
    """Post as Twilio to `url` (an absolute URL we built, or a path), on the test client's origin."""
    path = "/" + url.split("/", 3)[3] if url.startswith("http") else url
    return signed_post(client, path, payload("voice", CallSid=CALL_SID, ErrorCode="11200", **fields))


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


# --- the fallback URL ------------------------------------------------------------------------------------


def test_the_fallback_url_carries_what_the_fallback_needs(line):
    assert query_of(fallback_url(line)) == {
        "line": "+14155550100",
        "voice": "Polly.Brian",
        "language": "en-GB",
        "voicemail": "1",
        "maxSeconds": "60",
    }


def test_without_the_database_the_fallback_apologises_and_takes_a_message(client, line, django_assert_num_queries):
    url = fallback_url(line)
    with django_assert_num_queries(0):
        root = twiml_of(post_fallback(client, url))
    assert verbs(root) == ["Say", "Say", "Record", "Say", "Hangup"]
    sorry = root.find("Say")
    assert (sorry.text, sorry.get("voice"), sorry.get("language")) == (
        "We are sorry, we cannot connect your call right now.",
        "Polly.Brian",
        "en-GB",
    )
    record = root.find("Record")
    assert record.get("maxLength") == "60"
    # The caller is thanked without the database; the recording goes to a retried callback that stores it.
    assert query_of(record.get("action"))["step"] == "recorded"
    assert record.get("recordingStatusCallback") == webhook_url(
        "recording-callback", None, kind="voicemail", callSid=CALL_SID
    ).replace("http://127.0.0.1:8000", "http://testserver")
    assert record.get("recordingStatusCallback").endswith(f"#{RETRY_OVERRIDES}")


def test_after_the_message_the_fallback_thanks_the_caller(client, line, django_assert_num_queries):
    recorded = fallback_url(line) + "&step=recorded"
    with django_assert_num_queries(0):
        root = twiml_of(post_fallback(client, recorded, RecordingUrl="https://api.twilio.com/r/RE1"))
    assert verbs(root) == ["Say", "Hangup"]
    assert root.find("Say").text == "Thank you for your message. Goodbye."


def test_the_fallback_forwards_to_the_configs_number_then_takes_a_message_if_nobody_answers(client, line):
    VoiceConfig.objects.filter(pk=line.config_id).update(after_hours_forward_to="+14155550177")
    line.refresh_from_db()
    root = twiml_of(post_fallback(client, fallback_url(line)))
    assert verbs(root) == ["Say", "Say", "Dial"]
    dial = root.find("Dial")
    assert dial.text == "+14155550177"
    dialed = dial.get("action")
    assert query_of(dialed)["step"] == "dialed"

    assert verbs(twiml_of(post_fallback(client, dialed, DialCallStatus="no-answer"))) == [
        "Say",
        "Record",
        "Say",
        "Hangup",
    ]
    assert verbs(twiml_of(post_fallback(client, dialed, DialCallStatus="completed"))) == ["Say", "Hangup"]


def test_the_fallback_of_a_disabled_line_or_an_unknown_one_just_apologises(client, line):
    PhoneLine.objects.filter(pk=line.pk).update(enabled=False)
    line.refresh_from_db()
    for url in (fallback_url(line), "/voicetwilio/fallback"):
        root = twiml_of(post_fallback(client, url))
        assert verbs(root) == ["Say", "Say", "Hangup"]
        assert root.findall("Say")[1].text == "Please call again later. Goodbye."


@pytest.mark.parametrize(
    "query",
    [
        "forward=12345&voice=%3Cscript%3E&language=x&maxSeconds=-4",
        "forward=%2B0415555&voicemail=yes&maxSeconds=99999999999999999999",
        "step=dialed&voicemail=1&maxSeconds=0",
        "step=nonsense&line=%00",
    ],
)
def test_a_strange_fallback_query_still_gets_valid_twiml(client, db, query):
    response = post_fallback(client, f"/voicetwilio/fallback?{query}")
    root = twiml_of(response)
    assert verbs(root)[-1] == "Hangup"
    for say in root.findall("Say"):
        assert (say.get("voice"), say.get("language")) in (("Polly.Brian", "en-GB"), ("Polly.Joanna", "en-US"))
    record = root.find("Record")
    if record is not None:
        assert 1 <= int(record.get("maxLength")) <= 3600


def test_the_fallback_query_cannot_be_forged(client, line):
    url = "http://testserver" + fallback_url(line).removeprefix("http://127.0.0.1:8000")
    params = payload("voice", CallSid=CALL_SID)
    signature = twilio_signature(url, params)
    forged = url.replace("voicemail=1", "forward=%2B19005550100")
    response = client.post(forged.removeprefix("http://testserver"), params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403


def test_the_command_prints_each_lines_urls(line, capsys):
    call_command("webhook_urls")
    out = capsys.readouterr().out
    assert "+14155550100 (Main)" in out
    assert fallback_url(line) in out
    assert f"/voicetwilio/statuscallback#{RETRY_OVERRIDES}" in out


# --- connection overrides and the signature --------------------------------------------------------------


def test_event_callback_urls_carry_the_retry_overrides_and_call_flow_urls_do_not(db):
    for name in (
        "statuscallback",
        "participant-callback",
        "conference-callback",
        "recording-callback",
        "dial-callback",
    ):
        assert webhook_url(name, None, callSid=CALL_SID).endswith(f"?callSid={CALL_SID}#{RETRY_OVERRIDES}")
    for name in ("voice", "gather", "queue-wait", "voicemail", "fallback"):
        assert "#" not in webhook_url(name, None, callSid=CALL_SID)


def test_twilio_signs_a_callback_url_without_its_overrides(client, db):
    url = webhook_url("conference-callback", None, callSid=CALL_SID).replace(
        "http://127.0.0.1:8000", "http://testserver"
    )
    params = {"ConferenceSid": "CF" + "1" * 32, "CallSid": CALL_SID}
    path = url.removeprefix("http://testserver")
    path_without_fragment = path.split("#", 1)[0]

    as_twilio_signs = client.post(
        path_without_fragment, params, HTTP_X_TWILIO_SIGNATURE=twilio_signature(url.split("#", 1)[0], params)
    )
    assert as_twilio_signs.status_code == 200
    # The fragment never reaches us, so a signature over it cannot be checked: refused, as any wrong signature.
    with_fragment = client.post(path_without_fragment, params, HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, params))
    assert with_fragment.status_code == 403


# --- the database cannot be reached ----------------------------------------------------------------------


@pytest.mark.parametrize("error", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_a_status_callback_the_database_cannot_store_is_refused_with_503(twilio, line, caplog, error):
    caplog.set_level(logging.WARNING, logger="voicetwilio.webhooks.outage")
    with mock.patch("voiceconfig.calls.call_apply_status", side_effect=error):
        response = twilio.status(CALL_SID, "completed")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response["Content-Type"].startswith("text/xml") and response.content.strip().endswith(b"<Response />")
    [line_logged] = [r.getMessage() for r in caplog.records if r.name == "voicetwilio.webhooks.outage"]
    assert "database unavailable" in line_logged and f"CallSid={CALL_SID}" in line_logged
    assert "Twilio will retry" in line_logged


def test_a_client_asking_for_json_gets_the_error_envelope_with_the_503(twilio, line):
    with mock.patch("voiceconfig.calls.call_apply_status", side_effect=OperationalError("connection refused")):
        response = twilio.post("statuscallback", "status_callback", accept="application/json", CallSid=CALL_SID)
    assert response.status_code == 503
    assert response.json() == {
        "error": "database_unavailable",
        "message": "The database cannot be reached; send this request again.",
    }


def test_a_voice_webhook_without_the_database_answers_503_so_twilio_uses_the_fallback(twilio, line, caplog):
    with mock.patch("voicetwilio.webhooks.flow.line_for_incoming", side_effect=OperationalError("server closed")):
        response = twilio.incoming(call_sid=CALL_SID)
    assert response.status_code == 503
    assert "Twilio will use the fallback URL" in caplog.text


def test_a_caller_waiting_in_the_queue_stays_on_hold_while_the_database_is_down(twilio, line):
    query = {"callSid": CALL_SID}
    with mock.patch("voicetwilio.webhooks.flow.find_call", side_effect=OperationalError("connection refused")):
        root = twiml_of(twilio.post("queue-wait", "voice", query=query, CallSid=CALL_SID))
    assert verbs(root) == ["Say", "Pause", "Redirect"]
    assert root.find("Redirect").text == f"http://testserver/voicetwilio/queuewait?callSid={CALL_SID}"


def test_a_database_bug_is_not_an_outage_and_still_gets_twiml(twilio, line):
    # A constraint violation would fail the same way on every retry: it is answered like any other bug.
    with mock.patch("voiceconfig.calls.call_apply_status", side_effect=IntegrityError("duplicate key")):
        response = twilio.status(CALL_SID, "completed")
    assert response.status_code == 200
    assert not CallLog.objects.exists()


def test_the_emulator_requests_and_signs_a_callback_url_without_its_overrides():
    client = WebhookClient(auth_token="token")
    url = "http://127.0.0.1:8000/voicetwilio/statuscallback?callSid=CA1#rc=5&rp=ct,rt,5xx"
    target, body, signature = client.signed(url, "POST", {"CallSid": "CA1"})
    assert target == "http://127.0.0.1:8000/voicetwilio/statuscallback?callSid=CA1"
    assert signature == twilio_signature(target, {"CallSid": "CA1"}, "token")
