"""Softphone Access Tokens (decision 7), checked by decoding them with PyJWT as Twilio would."""

import time

import jwt
import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import api_client_for, make_user


@pytest.fixture(autouse=True)
def api_key_secret(settings):
    # Twilio's API key secrets are 32 characters; a shorter test secret only earns PyJWT warnings.
    settings.TWILIO_API_KEY_SECRET = "s" * 32


def decode(token: str, secret: str | None = None) -> dict:
    return jwt.decode(token, secret or django_settings.TWILIO_API_KEY_SECRET, algorithms=["HS256"])


@pytest.mark.parametrize("method", ["post_tokens", "get_token"])
def test_an_agent_gets_a_voice_token_for_their_own_identity(agent, agent_client, method):
    before = int(time.time())
    if method == "post_tokens":
        response = agent_client.post("/voicetwilio/tokens", {}, format="json")
    else:
        response = agent_client.get("/voicetwilio/token")

    assert response.status_code == 200, response.json()
    body = response.json()
    claims = decode(body["token"])
    assert claims["grants"]["identity"] == agent.identity == body["identity"]
    assert claims["grants"]["voice"] == {
        "incoming": {"allow": True},
        "outgoing": {"application_sid": django_settings.TWILIO_TWIML_APP_SID},
    }
    assert claims["iss"] == django_settings.TWILIO_API_KEY_SID
    assert claims["sub"] == django_settings.TWILIO_ACCOUNT_SID
    assert before <= claims["nbf"] <= int(time.time())
    assert claims["exp"] - claims["nbf"] == 3600
    assert body["ttlSeconds"] == 3600
    assert body["expiresAt"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(claims["exp"])))


def test_the_token_header_is_twilios(agent_client):
    token = agent_client.get("/voicetwilio/token").json()["token"]

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"}


def test_a_token_signed_with_another_secret_does_not_verify(agent_client):
    token = agent_client.get("/voicetwilio/token").json()["token"]

    with pytest.raises(jwt.InvalidSignatureError):
        decode(token, secret="not-our-api-key-secret-" + "x" * 16)


@override_settings(TWILIO_TOKEN_TTL_SECONDS=600)
def test_the_token_lifetime_is_configurable(agent_client):
    claims = decode(agent_client.post("/voicetwilio/tokens").json()["token"])

    assert claims["exp"] - claims["nbf"] == 600


@override_settings(TWILIO_TWIML_APP_SID="")
def test_without_a_twiml_app_the_token_only_receives_calls(agent_client):
    claims = decode(agent_client.get("/voicetwilio/token").json()["token"])

    assert claims["grants"]["voice"] == {"incoming": {"allow": True}}


def test_staff_may_ask_for_a_given_agent(staff_client, other_agent):
    response = staff_client.post("/voicetwilio/tokens", {"agent": other_agent.pk}, format="json")

    assert response.status_code == 200
    assert decode(response.json()["token"])["grants"]["identity"] == other_agent.identity


def test_staff_may_ask_for_a_given_agent_in_the_query(staff_client, other_agent):
    response = staff_client.get(f"/voicetwilio/token?agent={other_agent.pk}")

    assert decode(response.json()["token"])["grants"]["identity"] == other_agent.identity


def test_staff_who_are_not_agents_must_name_one(staff_client):
    response = staff_client.post("/voicetwilio/tokens", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "agent" in response.json()["message"]


def test_an_agent_cannot_get_another_agents_token(agent_client, other_agent):
    response = agent_client.post("/voicetwilio/tokens", {"agent": other_agent.pk}, format="json")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_an_agent_may_name_themselves(agent, agent_client):
    response = agent_client.get(f"/voicetwilio/token?agent={agent.pk}")

    assert decode(response.json()["token"])["grants"]["identity"] == agent.identity


def test_asking_for_an_unknown_agent_is_404(staff_client):
    assert staff_client.get("/voicetwilio/token?agent=999999").status_code == 404


def test_a_malformed_agent_id_is_400(staff_client):
    response = staff_client.get("/voicetwilio/token?agent=bob")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_a_user_who_is_not_an_agent_gets_400(db):
    client = api_client_for(make_user("visitor"))

    assert client.get("/voicetwilio/token").status_code == 400


@pytest.mark.parametrize(("method", "path"), [("post", "/voicetwilio/tokens"), ("get", "/voicetwilio/token")])
def test_tokens_need_authentication(db, method, path):
    response = getattr(APIClient(), method)(path)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@override_settings(TWILIO_API_KEY_SECRET="")
def test_without_an_api_key_tokens_are_503(agent_client):
    response = agent_client.get("/voicetwilio/token")

    assert response.status_code == 503
    assert response.json()["error"] == "twilio_not_configured"
    assert "TWILIO_API_KEY_SECRET" in response.json()["message"]
