"""Real servers for end-to-end tests: our app under gunicorn, and a tiny fake of api.twilio.com.

Ports come from INBOUND_TEST_PORTS (default 8200-8249) so parallel test runs on one machine do not collide.
Every process started here runs in its own process group and is stopped by its context manager.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

import requests

import twilio_emulator.appserver

ROOT = Path(__file__).resolve().parents[2]
PORT_RANGE = os.environ.get("INBOUND_TEST_PORTS", "8200-8249")
PARTICIPANTS = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Conferences/([^/]+)/Participants\.json$")
CALL = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls/(CA\w+)\.json$")


def free_port() -> int:
    low, high = (int(part) for part in PORT_RANGE.split("-"))
    return twilio_emulator.appserver.free_port(low, high)


class FakeTwilio(ThreadingHTTPServer):
    """Answers participant-create and call-update requests with Twilio's JSON shapes and records each request.

    `delay` holds each answer back a little, as the real API does, which widens any race on our side.
    """

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int, delay: float = 0.05):
        super().__init__(("127.0.0.1", port), _FakeTwilioHandler)
        self.delay = delay
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def participant_creates(self) -> list[tuple[str, dict]]:
        return [(path, form) for method, path, form in self.requests if method == "POST" and PARTICIPANTS.match(path)]


class _FakeTwilioHandler(BaseHTTPRequestHandler):
    server: FakeTwilio

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {
            key: values if len(values) > 1 else values[0]
            for key, values in parse_qs(self.rfile.read(length).decode()).items()
        }
        with self.server.lock:
            self.server.requests.append(("POST", self.path, form))
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        try:
            time.sleep(self.server.delay)
            status, body = self._answer(form)
        finally:
            with self.server.lock:
                self.server.in_flight -= 1
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _answer(self, form: dict) -> tuple[int, dict]:
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        if match := PARTICIPANTS.match(self.path):
            account, conference = match.group(1), unquote(match.group(2))
            leg = "CA" + uuid.uuid4().hex
            conference_sid = conference if conference.startswith("CF") else "CF" + uuid.uuid4().hex
            return 201, {
                "account_sid": account,
                "call_sid": leg,
                "label": form.get("Label"),
                "call_sid_to_coach": None,
                "coaching": False,
                "conference_sid": conference_sid,
                "date_created": now,
                "date_updated": now,
                "end_conference_on_exit": form.get("EndConferenceOnExit") == "true",
                "muted": False,
                "hold": False,
                "status": "queued",
                "start_conference_on_enter": True,
                "queue_time": "0",
                "uri": f"/2010-04-01/Accounts/{account}/Conferences/{conference_sid}/Participants/{leg}.json",
            }
        if match := CALL.match(self.path):
            account, call_sid = match.groups()
            return 200, {
                "account_sid": account,
                "sid": call_sid,
                "status": form.get("Status", "in-progress"),
                "date_created": now,
                "date_updated": now,
                "uri": f"/2010-04-01/Accounts/{account}/Calls/{call_sid}.json",
            }
        return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}


@contextmanager
def fake_twilio(delay: float = 0.05) -> Iterator[FakeTwilio]:
    server = FakeTwilio(free_port(), delay=delay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def gunicorn(*, env: dict, workers: int = 3, threads: int = 8, timeout: float = 30) -> Iterator[str]:
    """Serve the project with gunicorn (several worker processes, threads each); yields its base URL."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "voice_project.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    # Logs go to a file, not a pipe: a pipe nobody reads fills up and blocks the server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            start_new_session=True,  # its own process group, stopped as a whole below
            stdout=log,
            stderr=log,
        )
        try:
            _wait_until_ready(process, log, f"http://127.0.0.1:{port}", timeout)
            yield f"http://127.0.0.1:{port}"
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _wait_until_ready(process: subprocess.Popen, log, base_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("gunicorn did not become ready")
        time.sleep(0.2)
