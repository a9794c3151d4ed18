"""JWT login with rotation and blacklisting; staff manage everything, an agent reads only their own records."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.conftest import api_client_for, call_sid, make_user
from voiceconfig.models import Call, CallLog, CallStatus

TOKEN = "/api/auth/token"
REFRESH = "/api/auth/token/refresh"


def login(username: str, password: str = "pass-word-123") -> dict:
    response = APIClient().post(TOKEN, {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def assert_envelope(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str) and body["message"]
    if error:
        assert body["error"] == error
    return body


# --- login, refresh, rotation -------------------------------------------------------------------


def test_username_and_password_give_an_access_and_a_refresh_token_that_work(agent):
    tokens = login("alice")

    assert set(tokens) >= {"access", "refresh"}
    response = bearer(tokens["access"]).get(f"/voiceconfig/voiceagents/{agent.pk}")
    assert response.status_code == 200
    assert response.json()["identity"] == "alice"


def test_access_tokens_are_short_lived(agent):
    claims = jwt.decode(login("alice")["access"], options={"verify_signature": False})

    lifetime = timedelta(seconds=claims["exp"] - claims["iat"])
    assert lifetime == settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert lifetime <= timedelta(minutes=15)


def test_a_wrong_password_is_a_401_envelope(agent):
    response = APIClient().post(TOKEN, {"username": "alice", "password": "guess"}, format="json")

    body = assert_envelope(response, 401)
    assert "password" not in body  # nothing echoed back


def test_a_login_without_fields_is_a_400_naming_them(db):
    body = assert_envelope(APIClient().post(TOKEN, {}, format="json"), 400, "validation_error")

    assert set(body["details"]) == {"username", "password"}


def test_refreshing_rotates_and_the_old_refresh_token_is_refused_afterwards(agent):
    first = login("alice")

    rotated = APIClient().post(REFRESH, {"refresh": first["refresh"]}, format="json")
    replay = APIClient().post(REFRESH, {"refresh": first["refresh"]}, format="json")

    assert rotated.status_code == 200, rotated.content
    second = rotated.json()
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get("/voiceconfig/voiceagents").status_code == 200
    body = assert_envelope(replay, 401, "token_not_valid")
    assert "blacklisted" in body["message"]
    assert APIClient().post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize("refresh", ["junk", "a.b.c", "", "x" * 5000])
def test_a_bad_refresh_token_is_refused_with_an_envelope(db, refresh):
    response = APIClient().post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code in (400, 401)
    assert_envelope(response, response.status_code)


def test_an_access_token_is_not_a_refresh_token(agent):
    tokens = login("alice")

    assert_envelope(APIClient().post(REFRESH, {"refresh": tokens["access"]}, format="json"), 401)


def test_logins_are_throttled(agent, monkeypatch):
    # DRF reads the rates once, into the throttle class; patch them there.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "login": "3/min"})
    client = APIClient()

    answers = [client.post(TOKEN, {"username": "alice", "password": "guess"}, format="json") for _ in range(4)]

    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    assert_envelope(answers[-1], 429, "throttled")
    assert int(answers[-1]["Retry-After"]) > 0


# --- 401 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/voiceconfig/configs", "/voiceconfig/calls", "/voiceconfig/voiceagents/1"])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Basic YWxpY2U6cGFzcw==", "Bearer \x7f"]
)
def test_requests_without_a_valid_token_are_a_401_envelope(db, path, authorization):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.get(path)

    assert_envelope(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_signed_with_another_key_is_refused(agent):
    forged = jwt.encode({"token_type": "access", "user_id": str(agent.user_id), "exp": 9999999999}, "not-our-key-" * 4)

    assert_envelope(bearer(forged).get("/voiceconfig/voiceagents"), 401, "token_not_valid")


def test_a_deactivated_users_token_stops_working(agent):
    access = login("alice")["access"]
    agent.user.is_active = False
    agent.user.save()

    assert_envelope(bearer(access).get("/voiceconfig/voiceagents"), 401)


# --- what an agent sees -------------------------------------------------------------------------


@pytest.fixture
def two_agents_calls(agent, other_agent, line):
    mine = Call.objects.create(call_sid=call_sid(1), agent=agent, phone_line=line, status=CallStatus.COMPLETED)
    theirs = Call.objects.create(call_sid=call_sid(2), agent=other_agent, phone_line=line, status=CallStatus.COMPLETED)
    unassigned = Call.objects.create(call_sid=call_sid(3), status=CallStatus.NO_ANSWER)
    logs = {
        "mine": CallLog.objects.create(call=mine, call_sid=mine.call_sid, message="mine"),
        "theirs": CallLog.objects.create(call=theirs, call_sid=theirs.call_sid, message="theirs"),
        "unassigned": CallLog.objects.create(call=unassigned, call_sid=unassigned.call_sid, message="nobody's"),
    }
    return mine, theirs, unassigned, logs


def test_an_agent_lists_only_their_own_agent_record(agent_client, agent, other_agent):
    body = agent_client.get("/voiceconfig/voiceagents").json()

    assert body["count"] == 1
    assert [row["id"] for row in body["results"]] == [agent.pk]


def test_an_agent_reads_their_own_record_and_another_agents_answers_404(agent_client, agent, other_agent):
    assert agent_client.get(f"/voiceconfig/voiceagents/{agent.pk}").status_code == 200
    assert_envelope(agent_client.get(f"/voiceconfig/voiceagents/{other_agent.pk}"), 404, "not_found")


def test_an_agent_lists_and_reads_only_their_own_calls(agent_client, two_agents_calls):
    mine, theirs, unassigned, _ = two_agents_calls

    listed = agent_client.get("/voiceconfig/calls").json()

    assert [row["callSid"] for row in listed["results"]] == [mine.call_sid]
    assert agent_client.get(f"/voiceconfig/calls/{mine.pk}").status_code == 200
    assert_envelope(agent_client.get(f"/voiceconfig/calls/{theirs.pk}"), 404)
    assert_envelope(agent_client.get(f"/voiceconfig/calls/{unassigned.pk}"), 404)
    # Filtering for someone else's call finds nothing rather than leaking it.
    assert agent_client.get("/voiceconfig/calls", {"callSid": theirs.call_sid}).json()["count"] == 0
    assert agent_client.get("/voiceconfig/calls", {"agent": theirs.agent_id}).json()["count"] == 0


def test_an_agent_lists_and_reads_only_the_logs_of_their_own_calls(agent_client, two_agents_calls):
    mine, theirs, _, logs = two_agents_calls

    listed = agent_client.get("/voiceconfig/calllogs").json()

    assert [row["message"] for row in listed["results"]] == ["mine"]
    assert agent_client.get(f"/voiceconfig/calllogs/{logs['mine'].pk}").status_code == 200
    assert_envelope(agent_client.get(f"/voiceconfig/calllogs/{logs['theirs'].pk}"), 404)
    assert agent_client.get("/voiceconfig/calllogs", {"call": theirs.pk}).json()["count"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/voiceconfig/voiceagents", {"user": 1}),
        ("patch", "/voiceconfig/voiceagents/{me}", {"status": "available"}),
        ("put", "/voiceconfig/voiceagents/{me}", {"user": 1}),
        ("delete", "/voiceconfig/voiceagents/{me}", None),
        ("patch", "/voiceconfig/voiceagents/{other}", {"displayName": "x"}),
        ("post", "/voiceconfig/calls", {"callSid": call_sid(9)}),
        ("patch", "/voiceconfig/calls/{my_call}", {"status": "completed"}),
        ("delete", "/voiceconfig/calls/{my_call}", None),
        ("post", "/voiceconfig/calllogs", {"call": 1, "event": "note"}),
        ("delete", "/voiceconfig/calllogs/{my_log}", None),
    ],
)
def test_an_agents_writes_are_forbidden(agent_client, agent, other_agent, two_agents_calls, method, path, body):
    mine, _, _, logs = two_agents_calls
    path = path.format(me=agent.pk, other=other_agent.pk, my_call=mine.pk, my_log=logs["mine"].pk)

    response = getattr(agent_client, method)(path, body, format="json")

    assert_envelope(response, 403, "permission_denied")
    agent.refresh_from_db()
    assert agent.status == "offline"
    assert Call.objects.filter(pk=mine.pk, status=CallStatus.COMPLETED).exists()
    assert CallLog.objects.filter(pk=logs["mine"].pk).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/voiceconfig/configs",
        "/voiceconfig/configs/{config}",
        "/voiceconfig/phonelines",
        "/voiceconfig/phonelines/{line}",
    ],
)
def test_an_agent_cannot_read_configs_or_phone_lines(agent_client, line, path):
    response = agent_client.get(path.format(config=line.config_id, line=line.pk))

    assert_envelope(response, 403, "permission_denied")


@pytest.mark.parametrize(
    "path",
    [
        "/voiceconfig/configs",
        "/voiceconfig/phonelines",
        "/voiceconfig/voiceagents",
        "/voiceconfig/calls",
        "/voiceconfig/calllogs",
    ],
)
def test_a_user_who_is_neither_staff_nor_agent_sees_nothing(db, path):
    client = api_client_for(make_user("visitor"))

    assert_envelope(client.get(path), 403, "permission_denied")


def test_staff_who_are_also_agents_see_everything(two_agents_calls, make_agent):
    boss = make_agent("boss_agent")
    boss.user.is_staff = True
    boss.user.save()

    body = api_client_for(boss.user).get("/voiceconfig/calls").json()

    assert body["count"] == 3


def test_the_admin_session_can_browse_the_api_but_writes_need_the_csrf_token(staff_user, config):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)

    read = client.get("/voiceconfig/configs")
    write = client.post("/voiceconfig/configs", {"name": "Via session"}, format="json")

    assert read.status_code == 200
    body = assert_envelope(write, 403, "permission_denied")
    assert "CSRF" in body["message"]
