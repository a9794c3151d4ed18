"""Item 5: one `details` shape for every error of the API, walked over every operation the OpenAPI lists.

Every error answer is `{"error": str, "message": str}`; a `details`, when present, is an object from a camelCase
field name (or `nonFieldErrors`) to a list of sentences. Each operation is sent an empty body, a body whose every
documented field has the wrong type, and a body that is not JSON; each list gets a junk filter value. The console's
409s and the two-factor step's exact spec strings are walked too.
"""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.console_support import connected_call, install_fake_gateway
from tests.test_twofactor import SECRET, code_at, prelogin, verify, wrong_code
from voiceconfig import twofactor
from voiceconfig.models import Call, CallEvent, CallLog, CallStatus, TwoFactorDevice

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+)*$")
SPEC_2FA_ERRORS = set(twofactor.SPEC_ERRORS)


def assert_envelope(response, context: str) -> dict:
    assert response.status_code < 500, f"{context}: {response.status_code} {response.content[:300]!r}"
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], f"{context}: {body}"
    assert isinstance(body.get("message"), str) and body["message"], f"{context}: {body}"
    if "details" in body:
        details = body["details"]
        assert isinstance(details, dict) and details, f"{context}: details {details!r}"
        for name, sentences in details.items():
            assert name == "nonFieldErrors" or CAMEL.match(name), f"{context}: field name {name!r}"
            assert isinstance(sentences, list) and sentences, f"{context}: {name} -> {sentences!r}"
            assert all(isinstance(s, str) and s for s in sentences), f"{context}: {name} -> {sentences!r}"
    return body


def _operations() -> list[tuple[str, str, dict]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            content = (operation.get("requestBody") or {}).get("content", {})
            if "Twilio webhooks" in operation.get("tags", []) or (content and "application/json" not in content):
                continue  # Twilio's webhooks answer TwiML (tests/test_schema_webhooks.py checks their answers)
            body_schema = content.get("application/json", {}).get("schema", {})
            operations.append((path, method, _properties(schema, body_schema)))
    return operations


def _properties(schema: dict, body_schema: dict) -> list[str]:
    ref = body_schema.get("$ref")
    if ref:
        body_schema = schema["components"]["schemas"][ref.split("/")[-1]]
    return sorted(body_schema.get("properties", {}))


OPERATIONS = _operations()


@pytest.fixture
def world(db, staff_user, agent, line, monkeypatch):
    install_fake_gateway(monkeypatch)
    call = connected_call(agent=agent, line=line)
    log = CallLog.objects.create(call=call, call_sid=call.call_sid, event=CallEvent.STATUS, message="ringing")
    ids = {"calllogs": log.pk, "calls": call.pk, "configs": line.config_id, "phonelines": line.pk}
    ids |= {"voiceagents": agent.pk, "agent": agent.pk}
    client = APIClient()
    client.force_authenticate(staff_user)
    return client, ids


def _url(path: str, ids: dict) -> str:
    collection = path.strip("/").split("/")[1]
    return re.sub(r"\{[a-z]+\}", str(ids.get(collection, 1)), path)


WRONG_TYPES = [{"nested": ["not", "a", "scalar"]}, -(10**30), "\u0000", True]


@pytest.mark.parametrize(("path", "method", "fields"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_every_error_of_every_operation_has_the_one_shape(world, path, method, fields):
    client, ids = world
    url = _url(path, ids)
    sent = getattr(client, method)
    answers = []
    if method in {"post", "put", "patch"}:
        answers.append(("empty body", sent(url, {}, format="json")))
        for junk in WRONG_TYPES:
            answers.append((f"every field {junk!r}", sent(url, dict.fromkeys(fields, junk), format="json")))
        answers.append(("not JSON", sent(url, "{not json", content_type="application/json")))
        answers.append(("a JSON list", sent(url, [1, 2], format="json")))
    else:
        answers.append(("junk query", sent(url, {"id": "x", "ordering": "nope", "page": "-1", "status": "bogus"})))
    for context, response in answers:
        if response.status_code >= 400:
            assert_envelope(response, f"{method.upper()} {url} with {context}")


def test_the_old_shapes_are_gone(world, agent, line):
    client, ids = world
    # Was a bare list: {"details": ["Send {\"available\": true|false} ..."]}.
    status = client.post(f"/voicetwilio/agent/{agent.pk}/status", {}, format="json")
    assert status.status_code == 400
    assert list(assert_envelope(status, "status")["details"]) == ["nonFieldErrors"]
    # Was a string per field: {"details": {"to": "No agent with ..."}}.
    call = Call.objects.get()
    transfer = client.post(f"/voicetwilio/calls/{call.pk}:transfer", {"type": "client", "to": "nobody"}, format="json")
    assert transfer.status_code == 400
    details = assert_envelope(transfer, "transfer")["details"]
    assert all(isinstance(sentences, list) for sentences in details.values())


def test_nested_errors_name_their_place(world):
    client, _ = world
    response = client.post(
        "/voiceconfig/configs", {"name": "Nested", "businessHours": [{}, {"weekday": 99}]}, format="json"
    )
    assert response.status_code == 400
    details = assert_envelope(response, "nested")["details"]
    assert any(sentence.startswith("1.weekday: ") for sentence in details["businessHours"])


def test_console_409s_have_the_shape(world, agent, line):
    client, _ = world
    ended = connected_call(agent=agent, line=line, n=2, status=CallStatus.COMPLETED)
    for action in (":onhold", ":resume", ":transfer"):
        body = {"type": "phonenumber", "to": "+14155550123"} if action == ":transfer" else {}
        response = client.post(f"/voicetwilio/calls/{ended.pk}{action}", body, format="json")
        assert response.status_code == 409, (action, response.content)
        assert assert_envelope(response, action)["error"] == "conflict"


def test_two_factor_errors_keep_the_spec_strings_in_both_forms(db, agent):
    TwoFactorDevice.objects.create(user=agent.user, secret=SECRET, enabled=True)
    token = prelogin()
    post = verify(APIClient(), token, wrong_code())
    get = APIClient().get(
        "/voicetwilio/token",
        {"preLoginToken": token, "code": wrong_code(), "isSetCookie": "false", "isSKip2fa": "false"},
    )
    forged = verify(APIClient(), "forged", code_at())
    for response in (post, get, forged):
        assert response.status_code == 400
        body = assert_envelope(response, "2fa")
        assert body["error"] in SPEC_2FA_ERRORS
        assert body["retryRemainingNumber"].isdigit()
    malformed = APIClient().post("/api/auth/2fa/verify", {"code": ["x"]}, format="json")
    assert assert_envelope(malformed, "2fa malformed")["details"]["preLoginToken"]
