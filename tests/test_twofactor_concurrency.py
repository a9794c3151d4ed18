"""Two-factor counters under simultaneous attempts, on PostgreSQL, through real parallel HTTP requests.

A live server (threaded: one thread and one database connection per request) receives 20 requests released
together by a barrier. Whatever order the database serialises them in, no more codes may be checked than the
policy allows.
"""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests
from django.db import connection
from django.utils import timezone

from voiceconfig import twofactor
from voiceconfig.models import PreLoginAttempt, TwoFactorDevice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECRET = pyotp.random_base32()
PARALLEL = 20
PORTS = range(8400, 8420)  # this suite's port range on the shared machine


@pytest.fixture(scope="module")
def server_url():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
    from pytest_django.live_server_helper import LiveServer

    for port in PORTS:
        try:
            server = LiveServer(f"127.0.0.1:{port}")
        except OSError:
            continue
        break
    else:
        pytest.fail(f"no free port in {PORTS}")
    yield f"http://127.0.0.1:{server.thread.port}"
    server.stop()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def device(agent) -> TwoFactorDevice:
    return TwoFactorDevice.objects.create(user=agent.user, secret=SECRET, enabled=True, confirmed_at=timezone.now())


def prelogin(user) -> str:
    return twofactor.login_password_step(user=user).prelogin_token


def wrong_code() -> str:
    totp = pyotp.TOTP(SECRET)
    right = {totp.at(time.time() + 30 * n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222") if c not in right)


def post_together(url: str, payloads: list[dict]) -> list[tuple[int, dict]]:
    """Send every payload from its own thread and connection, all released at the same instant."""
    barrier = threading.Barrier(len(payloads))

    def send(payload: dict) -> tuple[int, dict]:
        with requests.Session() as session:
            session.get(url + "/healthz", timeout=30)  # open the connection before the barrier
            barrier.wait()
            response = session.post(url + "/api/auth/2fa/verify", json=payload, timeout=60)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(send, payloads))


def test_twenty_simultaneous_wrong_codes_on_one_login_check_exactly_five(server_url, device, agent):
    token = prelogin(agent.user)

    answers = post_together(server_url, [{"preLoginToken": token, "code": wrong_code()}] * PARALLEL)

    assert {status for status, _ in answers} == {400}
    errors = Counter(body["error"] for _, body in answers)
    assert errors == {"Code verify failed": 4, "Number of retries exceeded": PARALLEL - 4}
    # Each counted attempt saw the previous one's count: the retries left are 4, 3, 2, 1, never repeated.
    remaining = sorted(body["retryRemainingNumber"] for _, body in answers if body["error"] == "Code verify failed")
    assert remaining == ["1", "2", "3", "4"]
    assert PreLoginAttempt.objects.get().failures == 5
    assert TwoFactorDevice.objects.get().failed_attempts == 5

    right = post_together(server_url, [{"preLoginToken": token, "code": pyotp.TOTP(SECRET).now()}])
    assert right[0][1]["error"] == "Number of retries exceeded"


def test_twenty_simultaneous_wrong_codes_on_twenty_logins_lock_the_account_after_exactly_ten(server_url, device, agent):
    tokens = [prelogin(agent.user) for _ in range(PARALLEL)]

    answers = post_together(server_url, [{"preLoginToken": t, "code": wrong_code()} for t in tokens])

    assert Counter(body["error"] for _, body in answers) == {
        "Code verify failed": 9,
        "Account locked": PARALLEL - 9,
    }
    device.refresh_from_db()
    assert device.failed_attempts == 10 and device.is_locked
    assert sum(PreLoginAttempt.objects.values_list("failures", flat=True)) == 10


def test_one_code_sent_on_several_logins_at_once_is_accepted_once(server_url, device, agent):
    tokens = [prelogin(agent.user) for _ in range(8)]  # 7 failures stay below the account lock
    code = pyotp.TOTP(SECRET).now()

    answers = post_together(server_url, [{"preLoginToken": t, "code": code} for t in tokens])

    assert sorted(status for status, _ in answers) == [200] + [400] * 7
    assert {body["error"] for status, body in answers if status == 400} == {"Code verify failed"}


def test_one_backup_code_sent_on_several_logins_at_once_is_accepted_once(server_url, agent):
    twofactor.two_factor_enrol(user=agent.user)
    secret = TwoFactorDevice.objects.get().secret
    backup = twofactor.two_factor_confirm(user=agent.user, code=pyotp.TOTP(secret).now())[0]
    tokens = [prelogin(agent.user) for _ in range(8)]

    answers = post_together(server_url, [{"preLoginToken": t, "code": backup} for t in tokens])

    assert sorted(status for status, _ in answers) == [200] + [400] * 7
    assert twofactor.backup_codes_remaining(device=TwoFactorDevice.objects.get()) == 9
