"""Finding 11: every answer that carries a token says `Cache-Control: no-store` (RFC 6749 section 5.1)."""

import pytest
from rest_framework.test import APIClient

PASSWORD = "pass-word-123"  # conftest.make_user's


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(username: str = "alice") -> dict:
    response = APIClient().post("/api/auth/token", {"username": username, "password": PASSWORD}, format="json")
    assert response["Cache-Control"] == "no-store"
    return response.json()


def test_a_refreshed_pair_is_not_stored(agent):
    response = APIClient().post("/api/auth/token/refresh", {"refresh": login()["refresh"]}, format="json")
    assert response.status_code == 200
    assert "access" in response.json()
    assert response["Cache-Control"] == "no-store"


def test_a_refused_refresh_is_not_stored_either(db):
    response = APIClient().post("/api/auth/token/refresh", {"refresh": "junk"}, format="json")
    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["get", "post"])
def test_softphone_tokens_are_not_stored(agent_client, method):
    path = "/voicetwilio/token" if method == "get" else "/voicetwilio/tokens"
    response = getattr(agent_client, method)(path)
    assert response.status_code == 200
    assert response.json()["token"]
    assert response["Cache-Control"] == "no-store"
