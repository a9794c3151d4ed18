"""Item 6: every error answer in the OpenAPI carries the envelope schema; response schemas say what is always there."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, body: dict) -> dict:
    ref = body.get("$ref")
    return schema["components"]["schemas"][ref.split("/")[-1]] if ref else body


def test_every_json_error_response_has_the_envelope_schema(schema):
    checked = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            for code, response in operation.get("responses", {}).items():
                if not code.isdigit() or int(code) < 400:
                    continue
                content = response.get("content")
                assert content, f"{method.upper()} {path} {code} has no body schema"
                if "application/json" not in content:
                    continue  # a webhook's TwiML answer
                body = _resolve(schema, content["application/json"]["schema"])
                assert {"error", "message"} <= set(body.get("properties", {})), f"{method.upper()} {path} {code}"
                checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    ("path", "codes"),
    [("/voicetwilio/calls/{id}:onhold", {"400", "401", "404", "409", "502", "503"}), ("/voicetwilio/tokens", {"503"})],
)
def test_the_console_conflicts_and_twilio_failures_are_documented_with_the_envelope(schema, path, codes):
    responses = schema["paths"][path]["post"]["responses"]
    assert codes <= set(responses)
    for code in codes:
        body = _resolve(schema, responses[code]["content"]["application/json"]["schema"])
        assert {"error", "message"} <= set(body["properties"])


def test_the_validation_details_are_documented_as_lists_of_sentences_by_field(schema):
    details = schema["components"]["schemas"]["ValidationError"]["properties"]["details"]
    assert details["type"] == "object"
    assert details["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


def test_a_call_answer_always_has_from_and_to(schema):
    call = schema["components"]["schemas"]["Call"]
    assert {"id", "callSid", "from", "to", "direction", "status", "phoneLine", "agent"} <= set(call["required"])
    # Every field of a call is read-only, so a PATCH has no body to require anything of; a backfill needs them.
    assert "PatchedCallRequest" not in schema["components"]["schemas"]
    assert {"callSid", "from", "to", "status", "startedAt", "endedAt"} <= set(
        schema["components"]["schemas"]["CallBackfillRequest"]["required"]
    )


@pytest.mark.parametrize("path", ["/voiceconfig/stats/live", "/voiceconfig/stats/summary"])
def test_the_statistics_document_the_400_their_bad_parameters_get(schema, path):
    # An unknown department or time zone, or a bad date range, is a 400 envelope (the API fuzz checks the rest).
    assert {"400", "401", "403"} <= set(schema["paths"][path]["get"]["responses"])
