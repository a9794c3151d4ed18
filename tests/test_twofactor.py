"""Two-factor login, the spec's "Create a client token sample" (DESIGN.md decision 8): each error, each policy line."""

import time
from datetime import timedelta
from http.cookies import SimpleCookie

import jwt
import pyotp
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from voiceconfig import twofactor
from voiceconfig.models import BackupCode, PreLoginAttempt, TrustedDevice, TwoFactorDevice

PASSWORD = "pass-word-123"  # conftest.make_user's
SECRET = pyotp.random_base32()
VERIFY = "/api/auth/2fa/verify"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every login here checks a password; the production hasher's deliberate slowness only slows the suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def code_at(secret: str = SECRET, steps_from_now: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_from_now)


@pytest.fixture
def device(agent) -> TwoFactorDevice:
    return TwoFactorDevice.objects.create(user=agent.user, secret=SECRET, enabled=True, confirmed_at=timezone.now())


def password_step(client: APIClient, username: str = "alice", password: str = PASSWORD):
    return client.post("/api/auth/token", {"username": username, "password": password}, format="json")


def prelogin(client: APIClient | None = None) -> str:
    response = password_step(client or APIClient())
    assert response.status_code == 200, response.content
    return response.json()["preLoginToken"]


def verify(client: APIClient, token: str, code: str, **extra):
    return client.post(VERIFY, {"preLoginToken": token, "code": code, **extra}, format="json")


def wrong_code(secret: str = SECRET) -> str:
    right = {code_at(secret, n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


# --- the password step ------------------------------------------------------------------------------------------


def test_user_without_two_factor_still_gets_tokens_from_the_password_step(agent):
    response = password_step(APIClient())
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_password_step_gives_a_two_factor_user_only_a_signed_short_lived_prelogin_token(device, agent):
    before = OutstandingToken.objects.count()
    response = password_step(APIClient())

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"preLoginToken"}
    assert OutstandingToken.objects.count() == before, "no JWT may be minted before the code"
    claims = jwt.decode(body["preLoginToken"], options={"verify_signature": False})
    assert claims["sub"] == str(agent.user.pk)
    assert claims["agentId"] == agent.pk
    assert claims["exp"] - claims["loginAt"] == 300
    assert abs(claims["loginAt"] - time.time()) < 5


def test_wrong_password_for_a_two_factor_user_gives_no_prelogin_token(device):
    response = password_step(APIClient(), password="wrong")
    assert response.status_code == 401
    assert "preLoginToken" not in response.json()


def test_an_unconfirmed_enrolment_does_not_change_the_password_step(agent):
    twofactor.two_factor_enrol(user=agent.user)
    assert set(password_step(APIClient()).json()) == {"access", "refresh"}


# --- the verify step: success ---------------------------------------------------------------------------------------


def test_right_code_answers_the_jwt_a_refresh_token_and_the_verified_token(device, agent):
    client = APIClient()
    response = verify(client, prelogin(), code_at(), isSetCookie=False, isSKip2fa=False)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"jwtToken", "refreshToken", "Verifiedtoken"}
    assert response["Cache-Control"] == "no-store"
    verified = twofactor.verified_token_read(body["Verifiedtoken"])
    assert verified["sub"] == str(agent.user.pk) and abs(verified["verifiedAt"] - time.time()) < 5
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['jwtToken']}")
    assert client.get("/voiceconfig/voiceagents").status_code == 200
    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": body["refreshToken"]}, format="json")
    assert refreshed.status_code == 200 and "access" in refreshed.json()


def test_verify_accepts_form_encoded_fields_with_the_spec_names(device):
    response = APIClient().post(VERIFY, {"preLoginToken": prelogin(), "code": code_at(), "isSKip2fa": "false"})
    assert response.status_code == 200
    assert "Verifiedtoken" in response.json()


def test_verified_token_is_not_accepted_as_an_api_token(device):
    body = verify(APIClient(), prelogin(), code_at()).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['Verifiedtoken']}")
    assert client.get("/voiceconfig/voiceagents").status_code == 401


# --- the four errors ------------------------------------------------------------------------------------------------


def test_wrong_code_is_code_verify_failed_with_the_retries_left(device):
    response = verify(APIClient(), prelogin(), wrong_code())

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Code verify failed"
    assert body["message"]
    assert body["retryRemainingNumber"] == "4"
    assert "jwtToken" not in body


def test_prelogin_token_older_than_five_minutes_is_time_out(device, agent):
    step = twofactor.login_password_step(user=agent.user, now=timezone.now() - timedelta(minutes=5, seconds=1))

    response = verify(APIClient(), step.prelogin_token, code_at())

    assert response.status_code == 400
    assert response.json()["error"] == "Time out"
    assert response.json()["retryRemainingNumber"] == "0"


def test_prelogin_token_just_under_five_minutes_old_still_works(device, agent):
    step = twofactor.login_password_step(user=agent.user, now=timezone.now() - timedelta(minutes=4, seconds=50))
    assert verify(APIClient(), step.prelogin_token, code_at()).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        jwt.encode(
            {"typ": "voice-2fa-prelogin", "sub": "1", "exp": 2**31, "jti": "x", "pwd": "x"},
            "a-guessed-key-that-is-long-enough-for-hs256",
        ),
    ],
    ids=["garbage", "forged"],
)
def test_a_garbled_or_forged_prelogin_token_is_time_out(device, token):
    response = verify(APIClient(), token, code_at())
    assert response.status_code == 400
    assert response.json()["error"] == "Time out"


def test_an_access_token_cannot_stand_in_for_a_prelogin_token(device, agent):
    access = str(RefreshToken.for_user(agent.user).access_token)
    assert verify(APIClient(), access, code_at()).json()["error"] == "Time out"


def test_a_prelogin_token_works_once(device):
    token = prelogin()
    assert verify(APIClient(), token, code_at()).status_code == 200
    assert verify(APIClient(), token, code_at(steps_from_now=1)).json()["error"] == "Time out"


def test_fifth_wrong_code_on_one_prelogin_token_is_number_of_retries_exceeded(device):
    token = prelogin()
    answers = [verify(APIClient(), token, wrong_code()).json() for _ in range(5)]

    assert [a["error"] for a in answers] == ["Code verify failed"] * 4 + ["Number of retries exceeded"]
    assert [a["retryRemainingNumber"] for a in answers] == ["4", "3", "2", "1", "0"]
    # Even the right code no longer helps on that token; a new login does.
    assert verify(APIClient(), token, code_at()).json()["error"] == "Number of retries exceeded"
    assert verify(APIClient(), prelogin(), code_at()).status_code == 200


def test_ten_consecutive_wrong_codes_lock_the_account_until_staff_unlock_it(device, staff_user):
    answers = []
    for _ in range(2):
        token = prelogin()
        answers += [verify(APIClient(), token, wrong_code()).json() for _ in range(5)]

    assert answers[-1]["error"] == "Account locked"
    assert answers[-1]["retryRemainingNumber"] == "0"
    assert verify(APIClient(), prelogin(), code_at()).json()["error"] == "Account locked", "right code, still locked"

    admin = APIClient()
    admin.force_login(staff_user)
    response = admin.post(
        "/admin/voiceconfig/twofactordevice/", {"action": "unlock", "_selected_action": [device.pk]}, follow=True
    )
    assert response.status_code == 200
    assert verify(APIClient(), prelogin(), code_at()).status_code == 200


def test_retries_left_is_the_smaller_of_what_the_login_and_the_account_still_allow(device):
    for _ in range(7):
        verify(APIClient(), prelogin(), wrong_code())
    token = prelogin()

    answers = [verify(APIClient(), token, wrong_code()).json() for _ in range(3)]

    assert [(a["error"], a["retryRemainingNumber"]) for a in answers] == [
        ("Code verify failed", "2"),
        ("Code verify failed", "1"),
        ("Account locked", "0"),
    ]


def test_a_right_code_resets_the_consecutive_failure_count(device):
    for _ in range(2):
        token = prelogin()
        for _ in range(4):
            verify(APIClient(), token, wrong_code())
    device.refresh_from_db()
    assert device.failed_attempts == 8

    assert verify(APIClient(), prelogin(), code_at()).status_code == 200
    device.refresh_from_db()
    assert device.failed_attempts == 0
    assert verify(APIClient(), prelogin(), wrong_code()).json()["retryRemainingNumber"] == "4"


def test_a_code_is_accepted_once_only(device):
    code = code_at()
    assert verify(APIClient(), prelogin(), code).status_code == 200

    replay = verify(APIClient(), prelogin(), code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "Code verify failed"


def test_an_older_code_is_refused_after_a_newer_one_was_used(device):
    assert verify(APIClient(), prelogin(), code_at(steps_from_now=1)).status_code == 200
    assert verify(APIClient(), prelogin(), code_at(steps_from_now=0)).json()["error"] == "Code verify failed"


def test_a_code_from_long_ago_is_refused(device):
    assert verify(APIClient(), prelogin(), code_at(steps_from_now=-3)).json()["error"] == "Code verify failed"


def test_a_password_change_between_the_steps_ends_the_login(device, agent):
    token = prelogin()
    agent.user.set_password("another-pass-word-456")
    agent.user.save()
    assert verify(APIClient(), token, code_at()).json()["error"] == "Time out"


def test_malformed_verify_requests_are_400_not_500(device):
    client = APIClient()
    assert client.post(VERIFY, {}, format="json").status_code == 400
    assert client.post(VERIFY, [1, 2], format="json").status_code == 400
    assert client.post(VERIFY, {"preLoginToken": {"a": 1}, "code": 5}, format="json").status_code == 400
    deep = "[" * 100000 + "]" * 100000
    assert client.post(VERIFY, deep, content_type="application/json").status_code == 400
    body = client.post(VERIFY, {"preLoginToken": prelogin(), "code": "1" * 10000}, format="json").json()
    assert body["error"] == "validation_error"


def test_a_verify_body_that_is_not_json_is_a_documented_bad_request(device):
    response = APIClient().post(VERIFY, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    schema = SchemaGenerator().get_schema(request=None, public=True)
    failure_ref = schema["paths"][VERIFY]["post"]["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    error_ref = schema["components"]["schemas"][failure_ref.split("/")[-1]]["properties"]["error"]["$ref"]
    assert "bad_request" in schema["components"]["schemas"][error_ref.split("/")[-1]]["enum"]


# --- backup codes ---------------------------------------------------------------------------------------------------


def test_backup_codes_log_in_once_each(agent):
    twofactor.two_factor_enrol(user=agent.user)
    secret = TwoFactorDevice.objects.get().secret
    codes = twofactor.two_factor_confirm(user=agent.user, code=code_at(secret))
    assert len(codes) == len(set(codes)) == 10

    assert verify(APIClient(), prelogin(), codes[0]).status_code == 200
    again = verify(APIClient(), prelogin(), codes[0])
    assert again.json()["error"] == "Code verify failed"
    assert verify(APIClient(), prelogin(), codes[1].upper().replace("-", " ")).status_code == 200
    assert twofactor.backup_codes_remaining(device=TwoFactorDevice.objects.get()) == 8


def test_backup_codes_are_stored_hashed(agent):
    twofactor.two_factor_enrol(user=agent.user)
    codes = twofactor.two_factor_confirm(user=agent.user, code=code_at(TwoFactorDevice.objects.get().secret))
    stored = set(BackupCode.objects.values_list("code_hash", flat=True))
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


# --- enrolment ------------------------------------------------------------------------------------------------------


def test_an_agent_turns_two_factor_on_confirms_it_and_gets_backup_codes(agent_client, agent):
    enrol = agent_client.post("/api/auth/2fa/enrol")
    assert enrol.status_code == 200
    secret, uri = enrol.json()["secretKey"], enrol.json()["otpauthUri"]
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "issuer=Voice" in uri

    wrong = agent_client.post("/api/auth/2fa/confirm", {"code": wrong_code(secret)}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"] == "Code verify failed"
    assert not TwoFactorDevice.objects.get().enabled

    confirm = agent_client.post("/api/auth/2fa/confirm", {"code": code_at(secret)}, format="json")
    assert confirm.status_code == 200
    assert confirm.json()["enabled"] is True
    assert len(confirm.json()["backupCodes"]) == 10
    assert set(password_step(APIClient()).json()) == {"preLoginToken"}
    # The confirming code cannot be replayed to log in.
    assert verify(APIClient(), prelogin(), code_at(secret)).json()["error"] == "Code verify failed"


def test_enrolling_again_while_two_factor_is_on_is_a_conflict(agent_client, device):
    response = agent_client.post("/api/auth/2fa/enrol")
    assert response.status_code == 409
    assert TwoFactorDevice.objects.get().secret == SECRET


def test_confirming_without_enrolling_is_a_conflict(agent_client):
    assert agent_client.post("/api/auth/2fa/confirm", {"code": "123456"}, format="json").status_code == 409


def test_enrolment_needs_a_logged_in_user():
    assert APIClient().post("/api/auth/2fa/enrol").status_code == 401


def test_staff_required_two_factor_is_set_up_during_login_with_the_secret_key(agent):
    TwoFactorDevice.objects.create(user=agent.user, required=True)
    first = password_step(APIClient()).json()
    assert set(first) == {"preLoginToken", "secretKey", "otpauthUri"}
    secret = first["secretKey"]

    without_key = verify(APIClient(), first["preLoginToken"], code_at(secret))
    assert without_key.json()["error"] == "Code verify failed"

    # As an app shows it: lower case, in groups of four.
    typed = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)).lower()
    response = verify(APIClient(), first["preLoginToken"], code_at(secret), secretKey=typed)
    assert response.status_code == 200
    assert len(response.json()["backupCodes"]) == 10
    assert TwoFactorDevice.objects.get().enabled
    assert set(password_step(APIClient()).json()) == {"preLoginToken"}, "no secret handed out any more"


def test_staff_reset_two_factor_in_admin(device, agent, staff_user):
    twofactor.trusted_device_create(user=agent.user)
    BackupCode.objects.create(device=device, code_hash="x")
    admin = APIClient()
    admin.force_login(staff_user)

    response = admin.post(
        "/admin/voiceconfig/twofactordevice/", {"action": "reset", "_selected_action": [device.pk]}, follow=True
    )

    assert response.status_code == 200
    device.refresh_from_db()
    assert not device.enabled and device.secret == ""
    assert not BackupCode.objects.exists()
    assert not TrustedDevice.objects.filter(revoked_at__isnull=True).exists()
    assert set(password_step(APIClient()).json()) == {"access", "refresh"}


def test_admin_pages_for_two_factor_open_without_showing_the_secret(device, agent, staff_user):
    twofactor.trusted_device_create(user=agent.user)
    prelogin()
    admin = APIClient()
    admin.force_login(staff_user)
    for url in [
        "/admin/voiceconfig/twofactordevice/",
        f"/admin/voiceconfig/twofactordevice/{device.pk}/change/",
        "/admin/voiceconfig/trusteddevice/",
        "/admin/voiceconfig/preloginattempt/",
    ]:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode()


def test_admin_list_shows_backup_codes_left_in_the_same_queries_however_many_accounts(
    device, make_agent, staff_user, django_assert_max_num_queries
):
    BackupCode.objects.bulk_create(
        [BackupCode(device=device, code_hash=f"h{n}", used_at=timezone.now() if n < 3 else None) for n in range(10)]
    )
    admin = APIClient()
    admin.force_login(staff_user)
    with CaptureQueriesContext(connection) as one_account:
        page = admin.get("/admin/voiceconfig/twofactordevice/")
    assert '<td class="field-backup_codes_left">7</td>' in page.content.decode()

    for n in range(5):
        TwoFactorDevice.objects.create(user=make_agent(f"more{n}").user, secret=SECRET)
    with django_assert_max_num_queries(len(one_account)):
        admin.get("/admin/voiceconfig/twofactordevice/")


# --- isSKip2fa: trusted devices -------------------------------------------------------------------------------------


def trusted_cookie_from(response) -> str:
    morsel = response.cookies["voice_trusted_device"]
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Strict"
    assert int(morsel["max-age"]) == 14 * 24 * 3600
    return morsel.value


def test_skip_2fa_sets_an_httponly_trusted_cookie_and_the_next_password_step_gives_tokens(device):
    response = verify(APIClient(), prelogin(), code_at(), isSKip2fa=True)
    token = trusted_cookie_from(response)
    assert not TrustedDevice.objects.filter(token_hash=token).exists(), "only the hash is stored"

    browser = APIClient()
    browser.cookies = SimpleCookie({"voice_trusted_device": token})
    assert set(password_step(browser).json()) == {"access", "refresh"}


def test_without_skip_2fa_no_trusted_cookie_is_set(device):
    response = verify(APIClient(), prelogin(), code_at(), isSKip2fa=False)
    assert "voice_trusted_device" not in response.cookies
    assert not TrustedDevice.objects.exists()


def _browser_with(token: str) -> APIClient:
    browser = APIClient()
    browser.cookies = SimpleCookie({"voice_trusted_device": token})
    return browser


def test_a_forged_trusted_cookie_means_the_code_is_asked_and_the_cookie_cleared(device):
    response = password_step(_browser_with("forged-token-value"))
    assert set(response.json()) == {"preLoginToken"}
    assert response.cookies["voice_trusted_device"].value == ""


def test_an_expired_trusted_device_means_the_code_is_asked(device, agent):
    token, _ = twofactor.trusted_device_create(user=agent.user, now=timezone.now() - timedelta(days=14, seconds=1))
    assert set(password_step(_browser_with(token)).json()) == {"preLoginToken"}


def test_a_trusted_device_revoked_by_staff_means_the_code_is_asked(device, agent, staff_user):
    token, _ = twofactor.trusted_device_create(user=agent.user)
    admin = APIClient()
    admin.force_login(staff_user)
    admin.post(
        "/admin/voiceconfig/trusteddevice/",
        {"action": "revoke", "_selected_action": [TrustedDevice.objects.get().pk]},
    )
    assert set(password_step(_browser_with(token)).json()) == {"preLoginToken"}


def test_a_password_change_revokes_every_trusted_device(device, agent):
    tokens = [twofactor.trusted_device_create(user=agent.user)[0] for _ in range(2)]
    agent.user.set_password("another-pass-word-456")
    agent.user.save()

    for token in tokens:
        response = password_step(_browser_with(token), password="another-pass-word-456")
        assert set(response.json()) == {"preLoginToken"}
    assert TrustedDevice.objects.filter(revoked_at__isnull=True).count() == 0


def test_another_users_trusted_cookie_does_not_skip_the_code(device, make_agent):
    bob = make_agent("bob")
    TwoFactorDevice.objects.create(user=bob.user, secret=SECRET, enabled=True)
    token, _ = twofactor.trusted_device_create(user=bob.user)
    assert set(password_step(_browser_with(token)).json()) == {"preLoginToken"}


def test_a_trusted_device_does_not_bypass_an_account_lock(device, agent):
    token, _ = twofactor.trusted_device_create(user=agent.user)
    TwoFactorDevice.objects.filter(pk=device.pk).update(locked_at=timezone.now(), failed_attempts=10)

    body = password_step(_browser_with(token)).json()
    assert set(body) == {"preLoginToken"}
    assert verify(APIClient(), body["preLoginToken"], code_at()).json()["error"] == "Account locked"


# --- isSetCookie ----------------------------------------------------------------------------------------------------


def test_set_cookie_puts_the_jwt_in_an_httponly_secure_samesite_cookie(device):
    response = verify(APIClient(), prelogin(), code_at(), isSetCookie=True)
    morsel = response.cookies["voice_access"]
    assert morsel.value == response.json()["jwtToken"]
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Strict"


def test_without_set_cookie_no_jwt_cookie_is_set(device):
    assert "voice_access" not in verify(APIClient(), prelogin(), code_at(), isSetCookie=False).cookies


def test_the_jwt_cookie_authenticates_reads_and_needs_csrf_for_writes(device):
    browser = APIClient(enforce_csrf_checks=True)
    verify(browser, prelogin(), code_at(), isSetCookie=True)
    assert browser.get("/voiceconfig/voiceagents").status_code == 200
    assert browser.post("/api/auth/2fa/enrol").status_code == 403


# --- OpenAPI --------------------------------------------------------------------------------------------------------


def test_openapi_documents_the_verify_step_with_the_spec_field_names():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/auth/2fa/verify"]["post"]
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert set(schema["components"]["schemas"][request_ref]["properties"]) == {
        "preLoginToken",
        "code",
        "secretKey",
        "isSetCookie",
        "isSKip2fa",
    }
    ok_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert {"jwtToken", "refreshToken", "Verifiedtoken"} <= set(schema["components"]["schemas"][ok_ref]["properties"])
    failure_ref = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    failure = schema["components"]["schemas"][failure_ref]["properties"]
    assert "retryRemainingNumber" in failure
    enum = schema["components"]["schemas"][failure["error"]["$ref"].split("/")[-1]]["enum"]
    # The specification's four errors, plus the envelope's code for a malformed request.
    assert set(enum) == {"Code verify failed", "Time out", "Number of retries exceeded", "Account locked",
                         "validation_error", "bad_request"}  # fmt: skip
    assert "/api/auth/2fa/enrol" in schema["paths"] and "/api/auth/2fa/confirm" in schema["paths"]


def test_prelogin_attempts_older_than_a_day_are_swept_at_the_next_password_step(device, agent):
    twofactor.login_password_step(user=agent.user, now=timezone.now() - timedelta(days=2))
    prelogin()
    assert PreLoginAttempt.objects.count() == 1
