"""Every REST error is the JSON envelope {"error", "message"}, and no request, however malformed, is a 500.

The requests below are what a careless or hostile client sends: broken JSON, the wrong content type, arrays
where objects belong, numbers too large for any column, NUL bytes, megabytes of text, values of no enum, absurd
page numbers, unknown URLs and methods. They go to every endpoint and every writable field.
"""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.conftest import call_sid
from voiceconfig.api import filters, serializers
from voiceconfig.models import Call, CallLog, CallStatus

RESOURCES = ["configs", "phonelines", "voiceagents", "calls", "calllogs"]
# Calls are created by the platform, never over REST, and every field of one is read-only (test_api_calls).
CREATABLE = [resource for resource in RESOURCES if resource != "calls"]
SERIALIZERS = {
    "configs": serializers.VoiceConfigSerializer,
    "phonelines": serializers.PhoneLineSerializer,
    "voiceagents": serializers.VoiceAgentSerializer,
    "calls": serializers.CallSerializer,
    "calllogs": serializers.CallLogSerializer,
}
FILTERSETS = {
    "configs": filters.VoiceConfigFilter,
    "phonelines": filters.PhoneLineFilter,
    "voiceagents": filters.VoiceAgentFilter,
    "calls": filters.CallFilter,
    "calllogs": filters.CallLogFilter,
}
HUGE = 10**40
# The most rows one page returns, whatever pageSize asks (voiceconfig/api/pagination.py).
MAX_PAGE_SIZE = 200
# Values of the wrong type or out of every range, for any field.
BAD_VALUES = [
    [],
    [1, "two"],
    {},
    {"nested": {"deeper": []}},
    HUGE,
    -HUGE,
    1.5,
    "\x00",
    "a\x00b",
    "x" * 20_000,
    "bogus",
    None,
]
BAD_QUERY_VALUES = [str(HUGE), "-1", "1.5", "\x00", "x" * 5000, "[]", "{}", "true", "", "%", "' OR 1=1 --"]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def field_names(resource: str) -> list[str]:
    return sorted(camel(name) for name in SERIALIZERS[resource]().fields)


def writable_fields(resource: str) -> list[str]:
    serializer = SERIALIZERS[resource]()
    return sorted(camel(name) for name, field in serializer.fields.items() if not field.read_only)


def assert_envelope(response, *statuses: int) -> dict:
    assert response.status_code < 500, response.content[:500]
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


@pytest.fixture
def world(line, agent, other_agent):
    """One row of every resource, so detail URLs exist."""
    call = Call.objects.create(call_sid=call_sid(1), agent=agent, phone_line=line, status=CallStatus.COMPLETED)
    log = CallLog.objects.create(call=call, call_sid=call.call_sid, message="hello")
    return {
        "configs": line.config_id,
        "phonelines": line.pk,
        "voiceagents": agent.pk,
        "calls": call.pk,
        "calllogs": log.pk,
    }


def valid_payload(resource: str, world: dict, other_agent) -> dict:
    return {
        "configs": {"name": "Fresh"},
        "phonelines": {"name": "Fresh", "phoneNumber": "+14155550111", "config": world["configs"]},
        "voiceagents": {"user": other_agent.user_id, "identity": "fresh"},
        "calls": {"callSid": call_sid(99)},
        "calllogs": {"call": world["calls"], "event": "note"},
    }[resource]


# --- bodies -------------------------------------------------------------------------------------

MALFORMED_BODIES = [
    ("{bad", "application/json"),
    ('{"name": "x",}', "application/json"),
    ("", "application/json"),
    ("null", "application/json"),
    ("[1, 2]", "application/json"),
    ('"just a string"', "application/json"),
    ("42", "application/json"),
    ('{"name": NaN}', "application/json"),
    ('{"name": Infinity}', "application/json"),
    ("[" * 50_000 + "]" * 50_000, "application/json"),
    ('{"a":' * 50_000 + "1" + "}" * 50_000, "application/json"),
    (b'{"name": "\xff\xfe"}', "application/json"),
    ('{"name": "\\ud800", "data": {"x": "\\udfff"}}', "application/json"),
    (b"\x00\x00\x00", "application/json"),
    ("<config><name>x</name></config>", "application/xml"),
    ("name=x", "text/plain"),
    ("name=x", "application/x-yaml"),
    ("--xyz\r\nbroken", "multipart/form-data; boundary=xyz"),
    ("junk", "multipart/form-data"),
    ("a=%00&b=" + "%ff" * 10, "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize("resource", CREATABLE)
@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
def test_malformed_bodies_are_refused_with_the_envelope(staff_client, world, resource, body, content_type):
    for method, url in (("post", f"/voiceconfig/{resource}"), ("put", f"/voiceconfig/{resource}/{world[resource]}")):
        response = getattr(staff_client, method)(url, data=body, content_type=content_type)
        assert_envelope(response, 400, 415)


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
def test_malformed_bodies_never_change_a_call(staff_client, world, body, content_type):
    call = Call.objects.get(pk=world["calls"])
    url = f"/voiceconfig/calls/{call.pk}"

    response = staff_client.patch(url, data=body, content_type=content_type)

    # A body that parses to nothing asks for no change (200); anything else is refused with the envelope.
    if response.status_code != 200:
        assert_envelope(response, 400, 415)
    assert Call.objects.get(pk=call.pk).updated_at == call.updated_at


@pytest.mark.parametrize("resource", CREATABLE)
def test_wrong_types_and_odd_values_in_every_field_never_cause_a_500(staff_client, world, other_agent, resource):
    base = valid_payload(resource, world, other_agent)
    detail = f"/voiceconfig/{resource}/{world[resource]}"
    for field in writable_fields(resource):
        for value in BAD_VALUES:
            for method, url in (("post", f"/voiceconfig/{resource}"), ("patch", detail)):
                body = {**base, field: value} if method == "post" else {field: value}
                response = getattr(staff_client, method)(url, body, format="json")
                assert response.status_code < 500, (method, field, repr(value)[:40], response.content[:300])
                if response.status_code >= 400:
                    assert_envelope(response)
                elif method == "post":
                    # Accepted (None for a nullable field, a long free text...): clear the row for the next try.
                    staff_client.delete(f"/voiceconfig/{resource}/{response.json()['id']}")


@pytest.mark.parametrize(
    ("resource", "field", "value"),
    [
        ("configs", "ringTimeoutSeconds", HUGE),
        ("configs", "name", "x" * 101),
        ("configs", "name", "a\x00b"),
        ("configs", "ivrOptions", {"digit": "1"}),
        ("configs", "businessHours", "monday"),
        ("configs", "afterHoursAction", "teleport"),
        ("phonelines", "config", HUGE),
        ("phonelines", "agents", [HUGE]),
        ("phonelines", "agents", "1,2"),
        ("phonelines", "enabled", "maybe"),
        ("voiceagents", "user", -1),
        ("voiceagents", "status", "in_call"),
        ("calllogs", "call", "CA" + "0" * 32),
        ("calllogs", "sequenceNumber", HUGE),
        ("calllogs", "event", ["note"]),
    ],
)
def test_specific_bad_values_are_a_400_naming_the_field(staff_client, world, other_agent, resource, field, value):
    body = {**valid_payload(resource, world, other_agent), field: value}

    response = staff_client.post(f"/voiceconfig/{resource}", body, format="json")

    envelope = assert_envelope(response, 400)
    assert envelope["error"] == "validation_error"
    assert field in envelope["details"], envelope


@pytest.mark.parametrize("text", ["\\ud800", "\\udfff", "a\\ud83d", "\\udc00\\ud800"])
def test_half_a_surrogate_pair_inside_a_json_payload_is_a_400(staff_client, world, text):
    body = '{"call": CALL, "event": "note", "data": {"x": "TEXT"}}'.replace("CALL", str(world["calls"]))
    before = CallLog.objects.count()

    response = staff_client.post(
        "/voiceconfig/calllogs", data=body.replace("TEXT", text), content_type="application/json"
    )

    assert_envelope(response, 400)
    assert CallLog.objects.count() == before


def test_a_nul_byte_inside_a_json_payload_is_refused_not_stored(staff_client, world):
    response = staff_client.post(
        "/voiceconfig/calllogs", {"call": world["calls"], "data": {"note": "a\x00b"}}, format="json"
    )

    # SQLite stores it; PostgreSQL's jsonb cannot, and says so as a 400 rather than a 500.
    assert response.status_code in (201, 400)
    if response.status_code == 400:
        assert_envelope(response, 400)


def test_an_oversized_body_is_a_413_before_it_is_read(staff_client, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000

    response = staff_client.post("/voiceconfig/configs", {"name": "x", "greetingText": "y" * 20_000}, format="json")

    body = assert_envelope(response, 413)
    assert body["error"] == "payload_too_large"


def test_an_oversized_form_body_is_refused_too(staff_client, world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    form = "&".join(f"f{i}=1" for i in range(50))

    response = staff_client.post("/voiceconfig/configs", data=form, content_type="application/x-www-form-urlencoded")

    assert_envelope(response, 400)


# --- query strings ------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES)
def test_odd_filter_values_are_a_400_or_an_empty_list_never_a_500(staff_client, world, resource):
    names = [*FILTERSETS[resource].base_filters, "search", "page", "pageSize"]
    for name in names:
        for value in BAD_QUERY_VALUES:
            response = staff_client.get(f"/voiceconfig/{resource}", {name: value})
            assert response.status_code < 500, (name, value[:40], response.content[:300])
            if response.status_code >= 400:
                assert_envelope(response, 400, 404)
            else:
                assert set(response.json()) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("page", ["0", "-1", "abc", str(HUGE), "999", "1.5", "\x00"])
def test_invalid_page_numbers_are_a_404_envelope(staff_client, world, resource, page):
    body = assert_envelope(staff_client.get(f"/voiceconfig/{resource}", {"page": page}), 404)

    assert body["error"] == "not_found"


@pytest.mark.parametrize("resource", RESOURCES)
def test_unknown_ordering_and_enum_filters_are_a_400(staff_client, world, resource):
    body = assert_envelope(staff_client.get(f"/voiceconfig/{resource}", {"ordering": "password"}), 400)

    assert "ordering" in body["details"]


@pytest.mark.parametrize("page_size", [str(HUGE), "201", "100000"])
def test_an_absurd_page_size_is_capped_not_obeyed(staff_client, world, page_size):
    call = Call.objects.get(pk=world["calls"])
    CallLog.objects.bulk_create(
        CallLog(call=call, call_sid=call.call_sid, message=f"event {n}") for n in range(MAX_PAGE_SIZE + 10)
    )

    response = staff_client.get("/voiceconfig/calllogs", {"pageSize": page_size})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == MAX_PAGE_SIZE + 11
    assert len(body["results"]) == MAX_PAGE_SIZE
    assert body["next"] is not None


def test_a_page_size_under_the_cap_is_obeyed(staff_client, world):
    response = staff_client.get("/voiceconfig/calllogs", {"pageSize": "1"})

    assert len(response.json()["results"]) == 1


# --- URLs and methods ---------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("pk", [str(HUGE), "99999999999999999", "abc", "-1", "1.0", "%00", "0x10", "1;DROP", "%2e%2e"])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_odd_ids_are_a_404_envelope(staff_client, world, resource, pk, method):
    response = getattr(staff_client, method)(f"/voiceconfig/{resource}/{pk}", {}, format="json")

    # Nothing replaces a call: a PUT is refused as a method before any lookup (the URL may still not match at all).
    assert_envelope(response, *((404, 405) if (resource, method) == ("calls", "put") else (404,)))


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/voiceconfig",
        "/voiceconfig/",
        "/voiceconfig/configs/",
        "/voiceconfig/configs/1/extra",
        "/voiceconfig/unknown",
        "/api/",
        "/api/auth/token/",
        "/api/auth/nope",
        "/%00",
        "/" + "a" * 5000,
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_urls_are_a_404_envelope_even_with_debug_on(staff_client, settings, path, debug):
    settings.DEBUG = debug

    body = assert_envelope(staff_client.get(path), 404)

    assert body["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/voiceconfig/configs"),
        ("put", "/voiceconfig/phonelines"),
        ("patch", "/voiceconfig/calls"),
        ("post", "/voiceconfig/voiceagents/{agent}"),
        ("get", "/api/auth/token"),
        ("put", "/api/auth/token/refresh"),
        ("trace", "/voiceconfig/calllogs"),
    ],
)
def test_wrong_methods_are_a_405_envelope_with_the_allowed_ones(staff_client, world, method, path):
    response = staff_client.generic(method.upper(), path.format(agent=world["voiceagents"]))

    body = assert_envelope(response, 405)
    assert body["error"] == "method_not_allowed"
    assert response["Allow"]


def test_a_client_asking_for_xml_gets_a_406_in_json(staff_client, world):
    response = staff_client.get("/voiceconfig/configs", HTTP_ACCEPT="application/xml")

    assert_envelope(response, 406)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/plain, */*"])
def test_json_clients_never_get_the_browsable_apis_html_errors(staff_client, world, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    for response in (
        staff_client.get("/voiceconfig/configs/123456", **headers),
        staff_client.post("/voiceconfig/configs", data="{bad", content_type="application/json", **headers),
        staff_client.delete("/voiceconfig/configs", **headers),
        APIClient().get("/voiceconfig/configs", **headers),
    ):
        assert_envelope(response)


def test_a_browser_asking_for_html_gets_the_browsable_api_with_the_envelope_inside(staff_client, world):
    response = staff_client.get("/voiceconfig/configs/123456", HTTP_ACCEPT="text/html")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"not_found" in response.content


def test_a_request_for_an_unknown_host_is_a_400_envelope(db, settings):
    settings.ALLOWED_HOSTS = ["voice.example.com"]

    response = Client().get("/voiceconfig/configs", HTTP_HOST="evil.example.org")

    assert_envelope(response, 400)


# --- rate limits and conflicts ------------------------------------------------------------------


def test_too_many_requests_are_a_429_envelope_with_retry_after(staff_client, world, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "user": "2/min"})

    answers = [staff_client.get("/voiceconfig/configs") for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    body = assert_envelope(answers[-1], 429)
    assert body["error"] == "throttled"
    assert int(answers[-1]["Retry-After"]) > 0


def test_anonymous_clients_are_throttled_too(db, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "anon": "1/min"})
    client = APIClient()
    wrong = {"refresh": "not-a-token"}

    first, second = client.post("/api/auth/token/refresh", wrong), client.post("/api/auth/token/refresh", wrong)

    assert_envelope(first, 401)
    assert_envelope(second, 429)


def test_a_conflict_is_a_409_envelope(staff_client, world):
    body = assert_envelope(staff_client.delete(f"/voiceconfig/configs/{world['configs']}"), 409)

    assert body["error"] == "conflict"
