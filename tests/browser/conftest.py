"""Browser tests: Debian's Chromium, headless, driven by Playwright against pytest-django's live server.

Chromium runs with its network cut off from everything but this machine (host-resolver rules), as Twilio is here:
the console must say Twilio cannot be reached and go on working. Every page is watched for uncaught exceptions,
console errors, failed assets and requests that leave the machine (a CDN).

Locally the tests skip, saying why, when Chromium is not installed; in CI (`CI=true`) a missing Chromium fails.
"""

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK_BUNDLE = ROOT / "static" / "vendor" / "twilio-voice-sdk" / "twilio.min.js"
FAKE_SDK = (Path(__file__).parent / "fake_twilio_sdk.js").read_text()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # Nothing but this machine resolves: Twilio (and any CDN) is unreachable, as it is from CI.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
# The browser's own note when the SDK's signalling WebSocket cannot reach Twilio: the condition under test,
# which the page reports in words. Nothing else in the console is excused.
TWILIO_UNREACHABLE = re.compile(r"^WebSocket connection to 'wss://[a-z0-9.-]+\.twilio\.com/")
PASSWORD = "pass-word-123"
CSP_VIOLATION_REPORTER = """
document.addEventListener('securitypolicyviolation', (event) => {
  const blocked = event.blockedURI || 'inline';
  console.error(`CSP violation: ${event.violatedDirective} blocked ${blocked} on ${location.pathname}`);
});
"""

pytestmark = pytest.mark.browser


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (.ci/run installs it; CI must run the browser tests)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        _missing("Chromium is not installed: `apt-get install chromium` to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: `pip install -r requirements-dev.txt`")
    # Playwright's sync API keeps an event loop in this thread; the tests' own ORM reads and writes are plain
    # synchronous code that Django would otherwise refuse to run next to it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def console_assets() -> Path:
    """The softphone bundle built by `make console-assets`, built here if node_modules has the SDK."""
    if not SDK_BUNDLE.exists() and (ROOT / "node_modules" / "@twilio" / "voice-sdk").exists():
        subprocess.run(["node", "scripts/console-assets.mjs"], cwd=ROOT, check=True, capture_output=True)
    if not SDK_BUNDLE.exists():
        pytest.fail("static/vendor/twilio-voice-sdk is missing: run `make console-assets` (needs Node.js)")
    return SDK_BUNDLE


class PageWatch:
    """Collects what a user would call a broken page."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.expected: list[tuple[int, re.Pattern]] = []

    def expect_failure(self, status: int, path_pattern: str) -> None:
        """An API answer the test provokes on purpose (a wrong code, Twilio unreachable)."""
        self.expected.append((status, re.compile(path_pattern)))

    def attach(self, page) -> None:
        # Anything the Content-Security-Policy blocks is a broken page too, reported in words by the page itself
        # (Chromium's own "Refused to ..." console line is an error as well).
        page.add_init_script(CSP_VIOLATION_REPORTER)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught exception: {exc}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        text = message.text
        # "Failed to load resource" is judged by _response, which knows the URL and the status.
        if TWILIO_UNREACHABLE.match(text) or text.startswith("Failed to load resource"):
            return
        self.problems.append(f"console.error: {text}")

    def _response(self, response) -> None:
        if response.status < 400:
            return
        path = urlparse(response.url).path
        if any(status == response.status and pattern.search(path) for status, pattern in self.expected):
            return
        self.problems.append(f"HTTP {response.status} for {response.request.method} {path}")

    def _request(self, request) -> None:
        host = urlparse(request.url).hostname
        if request.url.startswith(("http://", "https://")) and host not in {"127.0.0.1", "localhost"}:
            self.problems.append(f"request to another host: {request.url}")

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


def _in_memory_sqlite() -> bool:
    from django.db import connection

    return connection.vendor == "sqlite" and connection.is_in_memory_db()


class OneRequestAtATime:
    """A WSGI application that runs one request at a time while the test database is in-memory SQLite.

    There every request thread of Django's live server reaches the same in-memory database, either through the
    test's own connection handed to each thread (two transactions at once on it: "cannot start a transaction
    within a transaction") or through a shared-cache connection of its own, whose table locks fail at once
    ("database table is locked": shared cache ignores the busy timeout). So the console's heartbeat racing a
    click's request failed now and then. Requests there take turns, each read to its end inside the lock;
    PostgreSQL (and file SQLite) answer in parallel as before. Decided per request: the live server starts
    before the test database exists.
    """

    def __init__(self, application):
        self.application = application
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not _in_memory_sqlite():
            return self.application(environ, start_response)
        with self.lock:
            result = self.application(environ, start_response)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()


@pytest.fixture(scope="session", autouse=True)
def _live_server_takes_turns_on_in_memory_sqlite() -> Iterator:
    """Set before pytest-django starts the live server (session-scoped too, autouse fixtures come first)."""
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    class TurnTakingWSGIServer(ThreadedWSGIServer):
        def set_app(self, application) -> None:
            super().set_app(OneRequestAtATime(application))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LiveServerThread, "server_class", TurnTakingWSGIServer)
        yield


@pytest.fixture
def open_page(browser, live_server, settings) -> Iterator:
    """open_page(fake_sdk=False) -> (page, watch): a fresh browser context (own cookies and storage)."""
    # Twilio's REST API is unreachable too: a closed local port refuses at once instead of waiting on DNS.
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"
    contexts, watches = [], []

    def _open(*, fake_sdk: bool = False, viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(10_000)
        page = context.new_page()
        watch = PageWatch()
        watch.attach(page)
        if fake_sdk:
            page.route(
                "**/static/vendor/twilio-voice-sdk/twilio.min.js",
                lambda route: route.fulfill(body=FAKE_SDK, content_type="application/javascript"),
            )
        contexts.append(context)
        watches.append(watch)
        return page, watch

    yield _open
    for context in contexts:
        context.close()
    for watch in watches:
        watch.assert_clean()


def admin_login(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")


def console_login(page, username: str) -> None:
    page.goto("/console/")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
