"""Per-user and per-address API throttles that cost one SQL statement per request.

DRF's own throttles keep each client's list of request times in the cache and write the whole list back on every
request. With the database cache (settings.CACHES: shared by every process, DESIGN.md "Scale") that is a read,
then a COUNT(*) of the cache table, a read and an UPDATE in a transaction, of a row that grows with the rate: at
the default 6,000/min a busy client's row holds thousands of pickled timestamps, rewritten on each request.

These count requests per fixed window of the rate's duration instead: one INSERT ... ON CONFLICT DO UPDATE ...
RETURNING on the same cache table (PostgreSQL, and SQLite >= 3.35), one small row per client. A fixed window lets
a client send up to twice the rate across a window boundary, which is fine for a guard against floods; the login
keeps DRF's exact sliding window (ScopedRateThrottle, a few requests a minute). With a cache that is not the
database's (CACHE_URL), they behave exactly as DRF's.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from django.db import connection
from django.utils import timezone
from rest_framework import throttling

# Our rows in the cache table; nothing reads them through Django's cache API.
KEY_PREFIX = "window-throttle:"


def _cache_table() -> str | None:
    config = settings.CACHES["default"]
    backend = config.get("BACKEND", "")
    if backend != f"{DatabaseCache.__module__}.{DatabaseCache.__qualname__}":
        return None
    return config["LOCATION"]


def count_request(*, key: str, window_seconds: int) -> tuple[int, float]:
    """Count one request of `key` in its current window. Returns the count so far and the seconds left in the window.

    One statement: insert the counter, or add one to it, or start it again at 1 when its window has passed
    (the SET's right-hand sides all see the row as it was).
    """
    now = timezone.now()
    window_end = now + timedelta(seconds=window_seconds)
    table = connection.ops.quote_name(_cache_table())
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, '1', %s) "
            f"ON CONFLICT (cache_key) DO UPDATE SET "
            f"value = CASE WHEN {table}.expires > %s "
            f"THEN CAST(CAST({table}.value AS INTEGER) + 1 AS VARCHAR(20)) ELSE '1' END, "
            f"expires = CASE WHEN {table}.expires > %s THEN {table}.expires ELSE EXCLUDED.expires END "
            f"RETURNING value, expires",
            [key, adapt(window_end), adapt(now), adapt(now)],
        )
        value, expires = cursor.fetchone()
    if isinstance(expires, str):  # SQLite answers the stored text
        expires = datetime.fromisoformat(expires)
    if timezone.is_naive(expires):
        expires = expires.replace(tzinfo=UTC)
    return int(value), max((expires - now).total_seconds(), 0.0)


class WindowCounterMixin:
    """allow_request() and wait() of SimpleRateThrottle, counted by count_request()."""

    seconds_left: float | None = None

    def allow_request(self, request, view) -> bool:
        if self.rate is None or _cache_table() is None:
            return super().allow_request(request, view)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count, self.seconds_left = count_request(key=f"{KEY_PREFIX}{key}", window_seconds=self.duration)
        return count <= self.num_requests

    def wait(self) -> float | None:
        if self.seconds_left is None:
            return super().wait()
        return self.seconds_left


class AnonRateThrottle(WindowCounterMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(WindowCounterMixin, throttling.UserRateThrottle):
    pass
