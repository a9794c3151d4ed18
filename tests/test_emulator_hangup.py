"""A caller placed by hand through the emulator (`POST /_emulator/calls`) hangs up by itself (issue 12 item 3).

The app here is a stub that keeps every caller waiting (a long <Pause>): only the caller's own limit ends the call.
The clock is virtual, so 120 clock seconds pass in an instant; under `make run` they are real seconds.
"""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
import requests

from twilio_emulator.appserver import free_port
from twilio_emulator.factory import build
from twilio_emulator.rest import DEFAULT_HANG_UP_AFTER_SECONDS

KEEP_WAITING = b'<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="3600"/></Response>'


class _WaitingApp(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(KEEP_WAITING)))
        self.end_headers()
        self.wfile.write(KEEP_WAITING)

    def log_message(self, *args):
        pass


@pytest.fixture
def emulator():
    app = ThreadingHTTPServer(("127.0.0.1", free_port(8550, 8569)), _WaitingApp)
    Thread(target=app.serve_forever, daemon=True).start()
    server = build(app_url=f"http://127.0.0.1:{app.server_address[1]}", port=free_port(8570, 8589)).start()
    yield server
    server.stop()
    app.shutdown()
    app.server_close()


def place(emulator, **fields) -> requests.Response:
    return requests.post(emulator.url + "/_emulator/calls", json={"to": "+14155550100", **fields}, timeout=10)


def ended_within(emulator, call_sid: str, seconds: float) -> bool:
    call, clock = emulator.world.calls[call_sid], emulator.world.clock
    with clock.running():  # this thread counts as an actor while it waits, as the clock expects of its waiters
        return clock.wait(lambda: call.ended, seconds)


def test_a_caller_hangs_up_by_default_after_the_stated_time(emulator):
    placed = place(emulator)

    assert placed.status_code == 201
    assert placed.json()["hangUpAfter"] == DEFAULT_HANG_UP_AFTER_SECONDS == 120
    sid = placed.json()["callSid"]
    assert not ended_within(emulator, sid, DEFAULT_HANG_UP_AFTER_SECONDS - 5)  # still waiting at 115 s
    assert ended_within(emulator, sid, 10)
    call = emulator.world.calls[sid]
    assert call.status == "completed" and call.hangup == "party"
    assert 119 <= emulator.world.clock.now() <= 126


def test_a_caller_with_a_shorter_limit_leaves_sooner(emulator):
    sid = place(emulator, hangUpAfter=30).json()["callSid"]

    assert ended_within(emulator, sid, 31)


def test_hang_up_after_null_keeps_the_caller_on_the_line(emulator):
    placed = place(emulator, hangUpAfter=None)

    assert placed.json()["hangUpAfter"] is None
    assert not ended_within(emulator, placed.json()["callSid"], 1000)


@pytest.mark.parametrize("value", [0, -5, "soon", True, [120]])
def test_a_bad_limit_is_a_400_and_places_no_call(emulator, value):
    placed = place(emulator, hangUpAfter=value)

    assert placed.status_code == 400
    assert placed.json()["error"] == "bad_request" and "hangUpAfter" in placed.json()["message"]
    assert emulator.world.calls == {}
