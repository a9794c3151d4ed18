"""The API's per-user and per-address throttles: a counter per client and window, one SQL statement a request."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from voiceconfig.api.throttling import KEY_PREFIX, count_request

pytestmark = pytest.mark.django_db


def rate(monkeypatch, user: str) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "user": user})


def counter_rows() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, value FROM voice_cache WHERE cache_key LIKE %s", [f"{KEY_PREFIX}%"])
        return cursor.fetchall()


def test_a_user_over_the_rate_waits_for_the_rest_of_the_window(staff_client, monkeypatch):
    rate(monkeypatch, "3/min")

    answers = [staff_client.get("/voiceconfig/calls") for _ in range(5)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    # One small row for the user, whatever the rate: not a list of request times.
    [(key, value)] = counter_rows()
    assert value == "5"


def test_a_new_window_starts_counting_again(staff_client, monkeypatch):
    rate(monkeypatch, "2/min")
    assert [staff_client.get("/voiceconfig/calls").status_code for _ in range(3)] == [200, 200, 429]
    with connection.cursor() as cursor:  # the minute has passed
        cursor.execute(
            "UPDATE voice_cache SET expires = %s WHERE cache_key LIKE %s",
            [connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=1)), f"{KEY_PREFIX}%"],
        )

    assert staff_client.get("/voiceconfig/calls").status_code == 200
    assert counter_rows()[0][1] == "1"


def test_counting_a_request_is_one_statement_and_says_how_long_the_window_lasts():
    with CaptureQueriesContext(connection) as statements:
        first = count_request(key=f"{KEY_PREFIX}someone", window_seconds=60)
    second = count_request(key=f"{KEY_PREFIX}someone", window_seconds=60)
    other = count_request(key=f"{KEY_PREFIX}someone-else", window_seconds=60)

    assert len(statements.captured_queries) == 1
    assert (first[0], second[0], other[0]) == (1, 2, 1)
    assert 59 <= second[1] <= 60
