"""Twilio-shaped form payloads (tests/fixtures/twilio/*.json) with per-test overrides."""

import json
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"


@cache
def _load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def payload(name: str, **overrides) -> dict:
    """The captured-shape payload `name`, with fields replaced (a None value drops the field)."""
    data = dict(_load(name))
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = str(value)
    return data


def sid(prefix: str, n: int) -> str:
    return f"{prefix}{n:032x}"
