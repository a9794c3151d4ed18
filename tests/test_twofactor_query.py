"""The spec's "Create a client token sample" as written: `GET /voicetwilio/token` with the two-factor fields.

With `preLoginToken` in the query it is the verify step (`POST /api/auth/2fa/verify`): same answers, errors,
counters and cookies; `code`, `isSetCookie` and `isSKip2fa` are required as the spec's table says. Without it
the URL stays the softphone token.
"""

import os
import subprocess
import sys
import time

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from tests.test_twofactor import SECRET, code_at, prelogin, verify, wrong_code
from tests.twilio.servers import free_port
from voice_project.logging_context import SecretQueryFilter, scrub_query_secrets
from voice_project.settings import BASE_DIR
from voiceconfig.models import PreLoginAttempt, TrustedDevice, TwoFactorDevice

TOKEN_URL = "/voicetwilio/token"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def device(agent) -> TwoFactorDevice:
    return TwoFactorDevice.objects.create(user=agent.user, secret=SECRET, enabled=True, confirmed_at=timezone.now())


def query_verify(client: APIClient, token: str, code: str, *, set_cookie="false", skip="false", **extra):
    params = {"preLoginToken": token, "code": code, "isSetCookie": set_cookie, "isSKip2fa": skip, **extra}
    return client.get(TOKEN_URL, {key: value for key, value in params.items() if value is not None})


def test_the_get_form_answers_the_jwt_like_the_post_form(device, agent):
    response = query_verify(APIClient(), prelogin(), code_at())

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"jwtToken", "refreshToken", "Verifiedtoken"}
    assert response["Cache-Control"] == "no-store"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['jwtToken']}")
    assert api.get("/voiceconfig/voiceagents").status_code == 200


def test_the_get_form_needs_no_login_and_ignores_a_stale_bearer_token(device):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.forged")
    assert query_verify(client, prelogin(), code_at()).status_code == 200


@pytest.mark.parametrize("missing", ["code", "isSetCookie", "isSKip2fa"])
def test_each_required_field_missing_is_a_400_naming_it(device, missing):
    fields = {"code": code_at(), "set_cookie": "true", "skip": "true"}
    fields[{"code": "code", "isSetCookie": "set_cookie", "isSKip2fa": "skip"}[missing]] = None
    token = prelogin()
    response = query_verify(APIClient(), token, fields.pop("code"), **fields)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert list(body["details"]) == [missing]
    assert body["details"][missing] == ["This field is required."]
    assert response["Cache-Control"] == "no-store"
    # Nothing was tried: the login step is still whole.
    assert PreLoginAttempt.objects.get().failures == 0


def test_all_three_missing_are_named_together(device):
    response = APIClient().get(TOKEN_URL, {"preLoginToken": prelogin()})
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"code", "isSetCookie", "isSKip2fa"}


def test_a_wrong_code_is_the_spec_error_with_the_retries_left(device):
    response = query_verify(APIClient(), prelogin(), wrong_code())
    assert response.status_code == 400
    assert response.json() == {
        "error": "Code verify failed",
        "message": response.json()["message"],
        "retryRemainingNumber": "4",
    }


def test_get_and_post_failures_count_on_the_same_login(device):
    token = prelogin()
    for _ in range(2):
        assert query_verify(APIClient(), token, wrong_code()).json()["retryRemainingNumber"] in {"4", "3"}
    for _ in range(2):
        verify(APIClient(), token, wrong_code())
    fifth = query_verify(APIClient(), token, wrong_code())
    assert fifth.json()["error"] == "Number of retries exceeded"
    assert TwoFactorDevice.objects.get().failed_attempts == 5


def test_a_forged_prelogin_token_is_time_out(device):
    response = query_verify(APIClient(), "forged", code_at())
    assert response.status_code == 400
    assert response.json()["error"] == "Time out"


def test_the_cookies_are_the_verify_steps(device):
    response = query_verify(APIClient(), prelogin(), code_at(), set_cookie="true", skip="true")
    access = response.cookies["voice_access"]
    assert access.value == response.json()["jwtToken"]
    assert access["httponly"] and access["secure"] and access["samesite"] == "Strict"
    trusted = response.cookies["voice_trusted_device"]
    assert trusted["path"] == "/api/auth/" and trusted["httponly"]
    assert TrustedDevice.objects.count() == 1


def test_false_flags_set_no_cookie(device):
    response = query_verify(APIClient(), prelogin(), code_at(), set_cookie="false", skip="false")
    assert not response.cookies
    assert not TrustedDevice.objects.exists()


def test_without_prelogin_token_it_is_still_the_softphone_token(agent_client):
    response = agent_client.get(TOKEN_URL)
    assert response.status_code == 200
    assert set(response.json()) == {"token", "identity", "expiresAt", "ttlSeconds"}
    assert response["Cache-Control"] == "no-store"
    assert APIClient().get(TOKEN_URL).status_code == 401


# --- the code never reaches a log line ------------------------------------------------------------------------------


def test_the_scrubber_hides_every_secret_parameter_and_keeps_the_rest():
    line = '"GET /voicetwilio/token?preLoginToken=eyJ.x.y&code=123456&secretKey=ABC&isSetCookie=true HTTP/1.1" 400'
    assert scrub_query_secrets(line) == (
        '"GET /voicetwilio/token?preLoginToken=[scrubbed]&code=[scrubbed]&secretKey=[scrubbed]&isSetCookie=true '
        'HTTP/1.1" 400'
    )


def test_the_filter_rewrites_a_record_built_from_arguments():
    import logging

    record = logging.LogRecord(
        "django.server", logging.INFO, "", 0, '"%s" %s', ("GET /t?code=987654 HTTP/1.1", 400), None
    )
    assert SecretQueryFilter().filter(record)
    assert "987654" not in record.getMessage()


def test_a_code_sent_in_the_query_string_is_not_in_the_servers_log(tmp_path):
    """A real development server (which logs every request line) answering the GET form."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "PYTEST"))},
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/voice.sqlite3",
        "DJANGO_LOG_FORMAT": "json",
    }
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=env, capture_output=True, timeout=300
    )
    assert migrated.returncode == 0, migrated.stderr
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}{TOKEN_URL}?preLoginToken=not-a-token&code=864213&isSetCookie=1&isSKip2fa=0"
            deadline = time.monotonic() + 60
            while True:
                try:
                    response = requests.get(url, timeout=5)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.3)
            assert response.status_code == 400, log_path.read_text()[-3000:]
            assert response.json()["error"] == "Time out"
            time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=15)
    text = log_path.read_text()
    assert "/voicetwilio/token" in text, text  # the request was logged...
    assert "864213" not in text and "not-a-token" not in text  # ...without the code or the token
