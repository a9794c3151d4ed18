"""Finding 7: a staff user with two-factor login on cannot get a working session with the password alone.

Before: `POST /admin/login/` with the password gave a session that the whole API accepted (configs, softphone
tokens for any agent). Now the admin asks for the code, and a session without it opens neither admin nor API.
"""

import time

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import make_user
from voiceconfig.models import PreLoginAttempt, TwoFactorDevice
from voiceconfig.staff_twofactor import VERIFIED_SESSION_KEY

PASSWORD = "pass-word-123"  # conftest.make_user's
SECRET = pyotp.random_base32()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_2fa(db):
    user = make_user("root", staff=True)
    TwoFactorDevice.objects.create(user=user, secret=SECRET, enabled=True, confirmed_at=timezone.now())
    return user


def code(secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(time.time())


def wrong(secret: str = SECRET) -> str:
    right = {pyotp.TOTP(secret).at(time.time() + 30 * n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222") if c not in right)


def password_login(client: Client, username: str = "root"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD})


def api_opens_to(client: Client, agent) -> list[int]:
    """What the routes of finding 7 answer this browser: configs read and write, a token for any agent."""
    return [
        client.get("/voiceconfig/configs").status_code,
        client.post("/voiceconfig/configs", {"name": "sneaky"}, content_type="application/json").status_code,
        client.post("/voicetwilio/tokens", {"agent": agent.pk}, content_type="application/json").status_code,
    ]


def test_the_password_alone_gives_no_session_that_opens_the_admin_or_the_api(staff_2fa, agent):
    browser = Client()
    response = password_login(browser)

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/2fa/"
    assert browser.get("/admin/").status_code == 302  # back to the login
    assert all(status in (401, 403) for status in api_opens_to(browser, agent))


def test_the_code_completes_the_admin_login_and_then_the_session_works(staff_2fa, agent):
    browser = Client()
    password_login(browser)
    response = browser.post("/admin/login/2fa/", {"code": code()})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    assert api_opens_to(browser, agent) == [200, 201, 200]


def test_a_wrong_code_is_refused_and_counted_like_the_rest_login(staff_2fa):
    browser = Client()
    password_login(browser)
    response = browser.post("/admin/login/2fa/", {"code": wrong()})

    assert response.status_code == 200
    assert b"Code verify failed" in response.content
    assert TwoFactorDevice.objects.get(user=staff_2fa).failed_attempts == 1
    assert PreLoginAttempt.objects.get(user=staff_2fa).failures == 1
    assert browser.get("/admin/").status_code == 302


def test_five_wrong_codes_end_the_login(staff_2fa):
    browser = Client()
    password_login(browser)
    for _ in range(5):
        response = browser.post("/admin/login/2fa/", {"code": wrong()})
    assert b"Number of retries exceeded" in response.content
    # This login is over: even the right code now goes back to the password.
    assert browser.post("/admin/login/2fa/", {"code": code()})["Location"] == "/admin/login/"
    assert browser.get("/admin/").status_code == 302


def test_a_code_is_accepted_once(staff_2fa):
    first = Client()
    password_login(first)
    used = code()
    assert first.post("/admin/login/2fa/", {"code": used}).status_code == 302
    second = Client()
    password_login(second)
    assert b"Code verify failed" in second.post("/admin/login/2fa/", {"code": used}).content


def test_the_code_step_without_a_password_step_goes_back_to_the_login(db):
    response = Client().post("/admin/login/2fa/", {"code": "123456"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"


def test_a_password_only_session_of_a_two_factor_user_is_refused_everywhere(staff_2fa, agent):
    # However the session came about (made before 2FA was turned on, or by any other login path).
    browser = Client()
    browser.force_login(staff_2fa)
    assert browser.get("/admin/").status_code == 302
    assert all(status in (401, 403) for status in api_opens_to(browser, agent))

    session = browser.session
    session[VERIFIED_SESSION_KEY] = staff_2fa.pk
    session.save()
    assert browser.get("/admin/").status_code == 200


def test_staff_without_two_factor_log_in_with_the_password_as_before(db, agent):
    make_user("plain", staff=True)
    browser = Client()
    response = password_login(browser, "plain")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/voiceconfig/configs").status_code == 200


def test_staff_required_to_use_two_factor_set_it_up_at_the_admin_login(db):
    user = make_user("newstaff", staff=True)
    TwoFactorDevice.objects.create(user=user, required=True)
    browser = Client()
    password_login(browser, "newstaff")
    page = browser.get("/admin/login/2fa/")
    secret = TwoFactorDevice.objects.get(user=user).secret
    assert secret and secret.encode() in page.content

    response = browser.post("/admin/login/2fa/", {"code": code(secret)})
    assert response.status_code == 200
    assert response.content.count(b"<li><code>") == 10  # the backup codes, shown once
    assert TwoFactorDevice.objects.get(user=user).enabled
    assert browser.get("/admin/").status_code == 200


def test_the_next_parameter_cannot_send_the_browser_elsewhere(staff_2fa):
    browser = Client()
    browser.post("/admin/login/?next=https://evil.example/", {"username": "root", "password": PASSWORD})
    response = browser.post("/admin/login/2fa/", {"code": code()})
    assert response["Location"] == "/admin/"


def test_a_login_without_next_lands_on_the_admin_index(db):
    make_user("plain", staff=True)
    response = Client().post("/admin/login/", {"username": "plain", "password": PASSWORD})
    assert response["Location"] == "/admin/"
