"""Local stand-ins for api.twilio.com: Prism (Twilio's own contract), a recording proxy, a faulty server.

Nothing here talks to the internet. Every server binds 127.0.0.1 in the console's port ranges and is
stopped by the fixture that started it.
"""

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

import twilio_emulator.appserver
from tests.twilio.openapi import TWILIO_OPENAPI  # noqa: F401  (re-exported: the file Prism serves)

REPO = Path(__file__).resolve().parents[2]
PRISM = REPO / "node_modules" / ".bin" / "prism"
PRISM_PORTS = range(4010, 4020)
HELPER_PORTS = range(8300, 8350)


def free_port(ports: range) -> int:
    """The first port in `ports` nobody listens on."""
    return twilio_emulator.appserver.free_port(ports[0], ports[-1])


class PrismProcess:
    """`prism mock` on Twilio's OpenAPI file, in its own process group so stopping it stops all of it."""

    def __init__(self, log_path: Path):
        self.port = free_port(PRISM_PORTS)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [str(PRISM), "mock", str(TWILIO_OPENAPI), "-h", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_until_listening(timeout)
        except BaseException:
            self.stop()  # whatever went wrong (even Ctrl-C), no Prism is left running
            raise

    def _wait_until_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prism exited early:\n{self.log_path.read_text()[-2000:]}")
            try:
                requests.get(self.url + "/", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or listening but still reading Twilio's 1.8 MB description (a loaded machine).
                time.sleep(0.2)
        raise RuntimeError(f"prism did not listen on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Exchange:
    """One request the project sent, exactly as it arrived, and what the mock answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    status: int = 0
    answer: str = ""

    def params(self) -> dict[str, str | list[str]]:
        """Form fields with single values unwrapped: what a test compares against."""
        return {key: values[0] if len(values) == 1 else values for key, values in self.form.items()}

    def query_params(self) -> dict[str, str | list[str]]:
        return {key: values[0] if len(values) == 1 else values for key, values in self.query.items()}


@dataclass
class _Recorder:
    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _for_prism(form: dict[str, list[str]]) -> str:
    # Prism rejects repeated keys for array fields (stoplightio/prism#2473) though Twilio accepts them;
    # `Key[]=a&Key[]=b` is the mock-only spelling it understands. We record the original, not this.
    pairs = []
    for key, values in form.items():
        name = f"{key}[]" if len(values) > 1 else key
        pairs.extend((name, value) for value in values)
    return urlencode(pairs)


class _ProxyHandler(BaseHTTPRequestHandler):
    recorder: _Recorder

    def log_message(self, *args) -> None:  # quiet test output
        pass

    def _relay(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        exchange = Exchange(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            form=parse_qs(body, keep_blank_values=True),
        )
        headers = {"Authorization": self.headers.get("Authorization", "")}
        data = None
        if self.command == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = _for_prism(exchange.form)
        answer = requests.request(
            self.command, self.recorder.upstream + self.path, data=data, headers=headers, timeout=10
        )
        exchange.status, exchange.answer = answer.status_code, answer.text
        with self.recorder.lock:
            self.recorder.exchanges.append(exchange)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_DELETE = _relay


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.port = free_port(HELPER_PORTS)
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RecordingProxy(_Server):
    """Forwards to Prism and keeps every request the project sent, before any mock-only rewriting."""

    def __init__(self, upstream: str):
        self.recorder = _Recorder(upstream=upstream)
        handler = type("Handler", (_ProxyHandler,), {"recorder": self.recorder})
        super().__init__(handler)

    @property
    def exchanges(self) -> list[Exchange]:
        return self.recorder.exchanges

    def clear(self) -> None:
        self.recorder.exchanges.clear()


@dataclass
class Fault:
    """How the faulty server answers: a status and a body (JSON, or text as is), after an optional delay."""

    status: int = 500
    body: dict | str | None = None
    delay: float = 0.0


def _twilio_like_success(method: str, path: str) -> Fault:
    if method == "POST" and path.endswith("/Participants.json"):
        return Fault(201, {"call_sid": "CA" + "e" * 32, "conference_sid": "CF" + "c" * 32, "label": None})
    if method == "DELETE":
        return Fault(204, "")
    return Fault(200, {})


class FaultyTwilio(_Server):
    """A stand-in for api.twilio.com that fails the requests matching a rule and answers the rest like Twilio.

    `rules` are (method, path fragment, Fault); the first match wins. Every request is kept in `hits`.
    """

    def __init__(self):
        self.rules: list[tuple[str, str, Fault]] = []
        self.hits: list[tuple[str, str, dict[str, list[str]]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path = urlsplit(self.path).path
                outer.hits.append((self.command, path, parse_qs(body, keep_blank_values=True)))
                fault = next(
                    (f for method, fragment, f in outer.rules if method == self.command and fragment in path),
                    None,
                ) or _twilio_like_success(self.command, path)
                if fault.delay:
                    time.sleep(fault.delay)
                text = fault.body if isinstance(fault.body, str) else json.dumps(fault.body or {})
                content = text.encode()
                try:
                    self.send_response(fault.status)
                    json_body = not isinstance(fault.body, str)
                    self.send_header("Content-Type", "application/json" if json_body else "text/html")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test): nobody to answer

            do_GET = do_POST = do_DELETE = _answer

        super().__init__(Handler)

    def fail(self, method: str, fragment: str, fault: Fault) -> None:
        self.rules.append((method, fragment, fault))
