"""Shared fixtures: users, agents, a config and a line, and authenticated API clients."""

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.network_guard import NetworkGuard
from tests.twilio.payloads import sid
from voiceconfig import services
from voiceconfig.models import PhoneLine, VoiceConfig

# Fixtures of the Twilio-facing tests: a mocked gateway, online agents, a driver that plays Twilio.
pytest_plugins = ["tests.twilio.fixtures"]

_numbers = itertools.count(1)


def make_user(username: str, *, staff: bool = False):
    return get_user_model().objects.create_user(
        username=username, password="pass-word-123", is_staff=staff, is_superuser=staff
    )


def api_client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    # The production hasher is slow on purpose (~0.5 s a password); tests create hundreds of users.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(request, django_db_blocker):
    # Throttle counters live in the database cache table. A test's rollback empties it, but the flush after a
    # transactional test (live server, threads) does not: without this, logins from 127.0.0.1 add up across tests.
    yield
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction")):
        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture(autouse=True)
def network_guard():
    """Any connection off loopback fails the test, even when the code under test swallows the error."""
    guard = NetworkGuard()
    with guard.installed():
        yield guard
    if guard.violations:
        pytest.fail(f"this test tried to connect off loopback: {', '.join(guard.violations)}", pytrace=False)


@pytest.fixture(autouse=True)
def _postgres_only(request):
    # Row locks and parallel connections only mean something on PostgreSQL; SQLite runs skip these tests.
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")


@pytest.fixture
def staff_user(db):
    return make_user("boss", staff=True)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return api_client_for(staff_user)


@pytest.fixture
def make_agent(db):
    def _make(username: str | None = None, **fields):
        username = username or f"agent{next(_numbers)}"
        return services.agent_create(user=make_user(username), **fields)

    return _make


@pytest.fixture
def agent(make_agent):
    return make_agent("alice", display_name="Alice")


@pytest.fixture
def other_agent(make_agent):
    return make_agent("bob", display_name="Bob")


@pytest.fixture
def agent_client(agent) -> APIClient:
    return api_client_for(agent.user)


@pytest.fixture
def config(db) -> VoiceConfig:
    return VoiceConfig.objects.create(name="Support")


@pytest.fixture
def line(config) -> PhoneLine:
    return PhoneLine.objects.create(name="Main", phone_number="+14155550100", config=config)


def call_sid(n: int) -> str:
    return sid("CA", n)
