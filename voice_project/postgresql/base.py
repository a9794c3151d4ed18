"""Django's PostgreSQL backend with a health check that costs no round trip (issue 14).

CONN_HEALTH_CHECKS makes Django check a persistent connection before each request's first query, so that a
connection the database dropped (restart, fail-over, a proxy's idle timeout) is replaced instead of failing the
webhook (docs/webhooks.md, tests/test_outage.py). Django's check is a `SELECT 1`: one round trip on every request,
a quarter of an incoming call's. Between requests the connection is idle, so the server sends nothing on it
unless it has closed it (end of file) or says why it is about to (FATAL: terminating connection ...): a socket
with something to read is a dead connection. We LISTEN to nothing, so no NOTIFY can arrive on it either.
Checking costs one `select()` with a zero timeout. A connection wrongly judged dead is only replaced.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
