"""Prism serving Twilio's official OpenAPI description, behind a proxy that records what we sent.

Skipped, with the reason, only when the Node tools are not installed (`npm ci` installs them; `.ci/run` does).
"""

import os

import pytest
from django.test import override_settings

from voicetwilio import gateway

from .servers import PRISM, TWILIO_OPENAPI, PrismProcess, RecordingProxy


def pytest_collection_modifyitems(config, items):
    if PRISM.exists():
        return
    reason = f"Prism is not installed ({PRISM} missing): run `npm ci` in the repository to run the contract tests"
    if os.environ.get("REQUIRE_TWILIO_CONTRACT"):
        raise pytest.UsageError(f"REQUIRE_TWILIO_CONTRACT is set but {reason}")
    for item in items:
        if "tests/contract/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def prism(tmp_path_factory):
    if not TWILIO_OPENAPI.exists():
        pytest.fail(f"Twilio's OpenAPI description is missing: at {TWILIO_OPENAPI} (tests/fixtures/twilio/openapi/)")
    server = PrismProcess(tmp_path_factory.mktemp("prism") / "prism.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def recording_proxy(prism):
    proxy = RecordingProxy(prism.url)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def twilio_mock(recording_proxy):
    """The gateway pointed at Prism (through the recorder) with TWILIO_API_BASE_URL, as a deployment would."""
    recording_proxy.clear()
    with override_settings(TWILIO_API_BASE_URL=recording_proxy.url):
        yield recording_proxy
    gateway._client_for.cache_clear()
