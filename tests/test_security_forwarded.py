"""Finding 9: X-Forwarded-Proto is believed only from the proxies gunicorn is told to trust.

A client that reaches the app over plain HTTP and writes `X-Forwarded-Proto: https` itself must not pass a
webhook signature made for the https:// URL, nor be answered with HSTS.
"""

import requests
from django.test import override_settings
from django.urls import reverse

from tests.test_ops import production_env
from tests.test_settings import GOOD, manage
from tests.twilio.servers import gunicorn
from tests.twilio.signing import twilio_signature

CALL = {"CallSid": "CA" + "c" * 32, "From": "+14155550111", "To": "+14155550100", "CallStatus": "completed"}
HSTS = "Strict-Transport-Security"


def _post_signed_for(client, scheme: str, **extra):
    path = reverse("statuscallback")
    signature = twilio_signature(f"{scheme}://testserver{path}", CALL)
    return client.post(path, CALL, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


@override_settings(SECURE_HSTS_SECONDS=3600, TWILIO_WEBHOOK_BASE_URL="")
def test_a_spoofed_forwarded_proto_over_plain_http_is_refused_and_gets_no_hsts(client, db):
    response = _post_signed_for(client, "https", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 403
    assert HSTS not in response


@override_settings(SECURE_HSTS_SECONDS=3600, TWILIO_WEBHOOK_BASE_URL="")
def test_a_request_that_really_arrived_over_https_passes_and_gets_hsts(client, db, line):
    # What gunicorn hands Django when a trusted proxy said https: the WSGI scheme itself.
    response = _post_signed_for(client, "https", secure=True)

    assert response.status_code == 200
    assert response[HSTS] == "max-age=3600"


def _spoofed_healthz_and_webhook(base_url: str) -> tuple[requests.Response, requests.Response]:
    health = requests.get(f"{base_url}/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    path = reverse("statuscallback")
    signed_for = base_url.replace("http://", "https://") + path
    webhook = requests.post(
        base_url + path,
        data=CALL,
        headers={"X-Forwarded-Proto": "https", "X-Twilio-Signature": twilio_signature(signed_for, CALL)},
        timeout=10,
    )
    return health, webhook


def _served_env(tmp_path, forwarded_allow_ips: str) -> dict:
    env = production_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/voice.sqlite3",
        TWILIO_AUTH_TOKEN="a-test-auth-token",
        # gunicorn.conf.py (which gunicorn loads from the working directory) reads forwarded_allow_ips from it.
        GUNICORN_FORWARDED_ALLOW_IPS=forwarded_allow_ips,
    )
    env["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1"
    return env


def test_under_gunicorn_the_header_counts_only_from_a_listed_proxy(tmp_path, settings):
    settings.TWILIO_AUTH_TOKEN = "a-test-auth-token"
    # The test client connects from 127.0.0.1: first as an unlisted client, then as the listed proxy.
    with gunicorn(env=_served_env(tmp_path, "10.255.255.1"), workers=1, threads=2) as base_url:
        health, webhook = _spoofed_healthz_and_webhook(base_url)
    assert HSTS not in health.headers
    assert webhook.status_code == 403

    with gunicorn(env=_served_env(tmp_path, "127.0.0.1"), workers=1, threads=2) as base_url:
        health, webhook = _spoofed_healthz_and_webhook(base_url)
    assert health.headers[HSTS].startswith("max-age=")
    assert webhook.status_code != 403


def test_the_deploy_check_asks_for_the_public_webhook_url(tmp_path):
    database = {"DATABASE_URL": f"sqlite:///{tmp_path}/voice.sqlite3"}
    without = manage("check", "--deploy", **database, **GOOD)
    assert "voicetwilio.W001" in without.stdout + without.stderr
    assert "TWILIO_WEBHOOK_BASE_URL" in without.stdout + without.stderr

    with_url = manage("check", "--deploy", **database, **GOOD, TWILIO_WEBHOOK_BASE_URL="https://voice.example.com")
    assert "voicetwilio.W001" not in with_url.stdout + with_url.stderr


def test_the_deploy_check_warns_when_django_is_told_to_believe_any_client(tmp_path):
    result = manage(
        "check",
        "--deploy",
        DATABASE_URL=f"sqlite:///{tmp_path}/voice.sqlite3",
        TWILIO_WEBHOOK_BASE_URL="https://voice.example.com",
        DJANGO_TRUST_X_FORWARDED_PROTO="1",
        **GOOD,
    )
    assert "voicetwilio.W002" in result.stdout + result.stderr
