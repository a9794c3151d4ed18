"""Django's SQLite backend, switching the file to WAL even when several processes open it at the same moment.

WAL is a property of the database file, set once by `PRAGMA journal_mode=WAL` (settings.py says why we want it).
Switching needs the file to itself: when two processes that both read it try to switch at once, SQLite refuses
one of them at once with "database is locked", without waiting out the busy timeout (waiting could deadlock).
`make run` starts the dev server and the emulator's callbacks together, and CI once saw a worker die of exactly
this while opening its connection. The other process's switch is what we wanted anyway: retry, within the busy
timeout, until the file is in WAL.
"""

import sqlite3
import time

from django.db.backends.sqlite3 import base

RETRY_PAUSE_SECONDS = 0.01


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        deadline = time.monotonic() + conn_params.get("timeout", 5)
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return connection
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    connection.close()
                    raise
                time.sleep(RETRY_PAUSE_SECONDS)
