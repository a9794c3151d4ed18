"""The connection health check needs no round trip, and still finds a connection the database dropped (issue 14;
voice_project/postgresql/base.py). The whole outage story is tests/test_outage.py."""

import time

import pytest
from django.db import connection, connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_live_connection_is_usable_without_a_query():
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with connection.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
            before = cursor.fetchone()[0]
        for _ in range(5):
            assert other.is_usable()
        with connection.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
            after = cursor.fetchone()[0]
        # Django's check would have run `SELECT 1` on that backend; ours sent nothing.
        assert before == after == "SELECT pg_backend_pid()"
    finally:
        other.close()


def test_a_connection_the_database_dropped_is_found_and_replaced():
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while other.is_usable() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not other.is_usable()
        # What Django does before a request's first query: the dead connection is closed, a new one opened.
        other.health_check_done = False
        other.close_if_health_check_failed()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] != pid
    finally:
        other.close()
