"""The browser tests' live server answers requests that arrive together, on in-memory SQLite too.

There Django hands every request thread the test's one connection; two transactions at once on it failed with
"cannot start a transaction within a transaction" (the console's heartbeat racing a click). conftest.py makes the
live server take turns on in-memory SQLite only; on PostgreSQL the requests stay parallel.
"""

import threading

import pytest
import requests
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12
REQUESTS_EACH = 4


def test_simultaneous_heartbeats_all_succeed(live_server, make_agent):
    agent = make_agent("alice")
    token = str(RefreshToken.for_user(agent.user).access_token)
    url = f"{live_server.url}/voicetwilio/agent/{agent.pk}/heartbeats"
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []

    def beat() -> None:
        session = requests.Session()
        barrier.wait()
        for _ in range(REQUESTS_EACH):
            statuses.append(session.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code)

    threads = [threading.Thread(target=beat) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert statuses == [200] * THREADS * REQUESTS_EACH, f"{connection.vendor}: {sorted(set(statuses))}"
    agent.refresh_from_db()
    assert agent.last_heartbeat_at is not None
