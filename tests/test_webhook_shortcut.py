"""Twilio's webhooks skip the session/auth/messages/CSRF middleware, and nothing else (issue 14).

The signature is still checked on every webhook, a 5xx is still TwiML, and every other path keeps the whole stack.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.twilio.signing import signed_post
from voiceconfig.models import Call

pytestmark = pytest.mark.django_db


def test_a_signed_webhook_is_answered_without_a_session_or_a_user(twilio, line):
    response = twilio.incoming()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "user")
    assert response["X-Frame-Options"] == "DENY"  # the headers a webhook answered with before
    assert response["X-Content-Type-Options"] == "nosniff"
    assert Call.objects.count() == 1


def test_an_unsigned_webhook_is_still_refused(client, line):
    response = client.post("/voicetwilio/statuscallback", {"CallSid": "CA" + "1" * 32, "CallStatus": "completed"})
    assert response.status_code == 403
    assert not hasattr(response.wsgi_request, "session")


def test_a_wrongly_signed_webhook_is_still_refused(client, line):
    response = signed_post(client, "/voicetwilio/voice", {"CallSid": "CA" + "2" * 32, "To": line.phone_number})
    assert response.status_code == 200  # the same request, signed right, is served
    tampered = client.post(
        "/voicetwilio/voice", {"CallSid": "CA" + "3" * 32}, HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl"
    )
    assert tampered.status_code == 403
    assert not Call.objects.filter(call_sid="CA" + "3" * 32).exists()


def test_a_webhook_that_fails_still_answers_twiml(twilio, line, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("voicetwilio.webhooks.flow.incoming", broken)
    response = twilio.incoming()
    # twilio_webhook answers the apology (as before the shortcut): valid TwiML that tells the caller something.
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response>" in response.content and b"<Say" in response.content


def test_every_other_path_keeps_the_whole_stack(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session") and hasattr(response.wsgi_request, "user")
    assert "csrftoken" in response.cookies


def test_a_webhook_reads_no_session_table(twilio, line):
    with CaptureQueriesContext(connection) as queries:
        twilio.status("CA" + "4" * 32, "completed", seq=1)
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"] or "auth_user" in q["sql"]]
