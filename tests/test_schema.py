"""OpenAPI 3 at /api/schema/ with Swagger UI and Redoc beside it, validated, camelCase, with the error envelope."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ["configs", "phonelines", "voiceagents", "calls", "calllogs"]

# Every operation of the specification (voice-api-v1.md): its summary's 29, and the detail's GET /voicetwilio/token.
SPEC_OPERATIONS = [
    ("post", "/voicetwilio/voice"),
    ("post", "/voicetwilio/statuscallback"),
    ("post", "/voicetwilio/gather"),
    ("post", "/voicetwilio/tokens"),
    ("get", "/voicetwilio/token"),
    ("post", "/voicetwilio/calls/{id}:transfer"),
    ("post", "/voicetwilio/calls/{id}:onhold"),
    ("post", "/voicetwilio/calls/{id}:resume"),
    ("post", "/voicetwilio/agent/{agentid}/status"),
    ("get", "/voiceconfig/phonenumbers"),
    *[
        (method, f"/voiceconfig/{resource}{suffix}")
        for resource in RESOURCES
        for method, suffix in [("get", ""), ("post", ""), ("put", "/{id}"), ("delete", "/{id}")]
    ],
]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def component(schema: dict, name: str) -> dict:
    return schema["components"]["schemas"][name]


def response_schema(schema: dict, path: str, method: str, code: str) -> dict:
    return schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]


def test_the_schema_is_openapi_3_and_needs_no_login(db):
    response = Client().get("/api/schema/")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Voice API"


@pytest.mark.parametrize(
    ("path", "marker", "asset"),
    [
        ("/api/docs/", b"swagger-ui", b"/static/drf_spectacular_sidecar/"),
        ("/api/redoc/", b"redoc", b"/api/redoc/redoc.standalone.js"),
    ],
)
def test_swagger_ui_and_redoc_answer_and_load_their_assets_from_this_server(db, path, marker, asset):
    response = Client().get(path)

    assert response.status_code == 200
    assert marker in response.content.lower()
    assert b"cdn.jsdelivr.net" not in response.content  # served locally (drf-spectacular-sidecar): works offline
    assert b"fonts.googleapis.com" not in response.content
    assert asset in response.content


def test_the_redoc_bundle_is_the_sidecars_without_redoclys_cdn_logo(db):
    response = Client().get("/api/redoc/redoc.standalone.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"Redoc" in response.content and len(response.content) > 500_000
    assert b"cdn.redoc.ly" not in response.content


def test_the_docs_assets_are_served_by_the_app_itself(db, settings):
    settings.DEBUG = True  # as `make run` serves them: WhiteNoise reads the installed apps' static folders

    response = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")

    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"SwaggerUI" in body


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_resource_has_list_create_retrieve_put_patch_and_delete(schema, resource):
    collection = schema["paths"][f"/voiceconfig/{resource}"]
    item = schema["paths"][f"/voiceconfig/{resource}/{{id}}"]

    assert {"get", "post"} <= set(collection)
    assert {"get", "put", "patch", "delete"} <= set(item)


def test_field_names_are_camel_case_as_on_the_wire(schema):
    config = component(schema, "VoiceConfig")["properties"]
    line = component(schema, "PhoneLine")["properties"]
    agent = component(schema, "VoiceAgent")["properties"]

    assert {"greetingText", "businessHours", "ivrOptions", "afterHoursAction", "ringTimeoutSeconds"} <= set(config)
    assert not any("_" in name for name in config)
    assert {"phoneNumber", "config", "enabled", "agents"} <= set(line)
    assert {"identity", "displayName", "status", "user"} <= set(agent)


def test_calls_are_described_with_the_specs_from_and_to_and_read_only(schema):
    call = component(schema, "Call")["properties"]

    assert {"from", "to", "callSid", "phoneLine", "agent", "direction", "status"} <= set(call)
    assert "fromNumber" not in call and "from_number" not in call
    assert [name for name, field in call.items() if not field.get("readOnly")] == []
    assert "CallRequest" not in schema["components"]["schemas"]
    assert component(schema, "CallStatusEnum")["enum"] == [
        "queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "canceled", "failed",
    ]  # fmt: skip


def test_list_endpoints_document_their_filters_pagination_and_ordering(schema):
    parameters = {p["name"] for p in schema["paths"]["/voiceconfig/calls"]["get"]["parameters"]}

    assert {"callSid", "from", "to", "status", "agent", "phoneLine", "createdAfter", "ordering", "search"} <= parameters
    assert {"page", "pageSize"} <= parameters
    paginated = component(schema, "PaginatedCallList")["properties"]
    assert {"count", "next", "previous", "results"} <= set(paginated)


def test_error_responses_are_documented_with_the_envelope(schema):
    error = component(schema, "Error")
    validation = component(schema, "ValidationError")
    item = "/voiceconfig/configs/{id}"

    assert set(error["properties"]) == {"error", "message"}
    assert set(error["required"]) == {"error", "message"}
    assert "details" in validation["properties"]
    assert response_schema(schema, "/voiceconfig/configs", "post", "400")["$ref"].endswith("/ValidationError")
    for method, code in [("get", "401"), ("get", "403"), ("get", "404"), ("delete", "409"), ("put", "429")]:
        assert response_schema(schema, item, method, code)["$ref"].endswith("/Error"), (method, code)
    assert response_schema(schema, "/voiceconfig/calllogs", "post", "409")["$ref"].endswith("/Error")
    assert response_schema(schema, "/voiceconfig/calls/{id}", "patch", "400")["$ref"].endswith("/ValidationError")


def test_login_and_refresh_are_documented(schema):
    refresh = schema["paths"]["/api/auth/token/refresh"]["post"]

    assert "200" in refresh["responses"]
    # A wrong password and a spent refresh token answer 401: the schema must say so (schemathesis checks it).
    assert response_schema(schema, "/api/auth/token", "post", "401")["$ref"].endswith("/Error")
    assert response_schema(schema, "/api/auth/token/refresh", "post", "401")["$ref"].endswith("/Error")
    assert "409" in schema["paths"]["/api/auth/2fa/confirm"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/auth/2fa/enrol"]["post"]["responses"]


def test_business_hours_are_documented_as_hh_mm_not_rfc3339_time(schema):
    hours = component(schema, "BusinessHours")["properties"]

    assert hours["opensAt"]["type"] == "string" and "format" not in hours["opensAt"]
    assert hours["opensAt"]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"


@pytest.mark.slow
def test_spectacular_validates_the_schema_without_a_single_warning(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "s.yaml"),
        ],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr


def test_all_30_operations_of_the_specification_are_in_the_schema(schema):
    missing = [
        f"{method.upper()} {path}" for method, path in SPEC_OPERATIONS if method not in schema["paths"].get(path, {})
    ]

    assert len(set(SPEC_OPERATIONS)) == 30
    assert missing == []
