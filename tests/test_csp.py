"""Finding 10: a Content-Security-Policy on every answer; the docs' inline scripts allowed by their exact hash."""

import base64
import hashlib
import re

import pytest
from django.test import Client

from voice_project.csp import inline_script_hashes

HEADER = "Content-Security-Policy"


def directives(response) -> dict[str, list[str]]:
    policy = response[HEADER]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/console/", "/admin/login/", "/voiceconfig/configs", "/healthz"])
def test_every_page_and_answer_allows_scripts_from_this_origin_only(db, path):
    policy = directives(Client().get(path))
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["style-src"]


def test_the_console_may_reach_twilios_signalling_and_nothing_else_foreign(db):
    policy = directives(Client().get("/console/"))
    assert policy["connect-src"] == ["'self'", "wss://*.twilio.com", "https://*.twilio.com"]
    assert policy["default-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_allow_exactly_their_own_inline_scripts(db, path):
    response = Client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    policy = directives(response)
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    expected = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
    assert set(policy["script-src"]) == {"'self'", *expected}
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


def test_data_blocks_and_external_scripts_need_no_hash():
    html = '<script type="application/json" id="c">{"a": 1}</script><script src="/s.js"></script><script>go()</script>'
    assert inline_script_hashes(html) == [f"'sha256-{base64.b64encode(hashlib.sha256(b'go()').digest()).decode()}'"]
