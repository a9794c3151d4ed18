"""Check a form we sent to Twilio's REST API against Twilio's official OpenAPI description
(vendored in tests/fixtures/twilio/openapi/, with its licence).

A light, dependency-free reading of the request body schema: required fields present, no unknown fields, and
each value of the declared type (integer, boolean, enum, URI). Prism (tests/contract) does the full validation;
this lets any test that records requests (such as the fake Twilio of the concurrency test) check them too.
"""

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

# Vendored inside the repository (tests/fixtures/twilio/openapi/README.md says where from): a clone stands alone.
TWILIO_OPENAPI = Path(__file__).resolve().parents[1] / "fixtures" / "twilio" / "openapi" / "twilio_api_v2010.json"


def available() -> bool:
    return TWILIO_OPENAPI.exists()


@cache
def _spec() -> dict:
    return json.loads(TWILIO_OPENAPI.read_text())


def _resolve(schema: dict) -> dict:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _spec()["components"]["schemas"][name]
    return schema


def _template_for(path: str) -> str:
    for template in _spec()["paths"]:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", r"[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise KeyError(f"no Twilio API path matches {path}")


def form_problems(path: str, form: dict, method: str = "post") -> list[str]:
    """Every way `form`, sent to `path`, breaks Twilio's request schema (empty when it conforms)."""
    operation = _spec()["paths"][_template_for(path)][method]
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    properties = schema.get("properties", {})
    problems = [f"missing required {name}" for name in schema.get("required", []) if name not in form]
    for name, raw in form.items():
        if name not in properties:
            problems.append(f"unknown field {name}")
            continue
        field = _resolve(properties[name])
        values = raw if isinstance(raw, list) else [raw]
        if field.get("type") == "array":
            field = _resolve(field.get("items", {}))
        for value in values:
            problems.extend(f"{name}: {problem}" for problem in _value_problems(field, value))
    return problems


def _value_problems(field: dict, value: str) -> list[str]:
    kind = field.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return [f"{value!r} is not an integer"]
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return [f"{value!r} is not a boolean"]
    if "enum" in field and value not in field["enum"]:
        return [f"{value!r} is not one of {field['enum']}"]
    if field.get("format") == "uri" and not urlsplit(value).scheme.startswith("http"):
        return [f"{value!r} is not an absolute http(s) URI"]
    return []
