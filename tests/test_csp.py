"""Finding 10: a Content-Security-Policy on every answer; the docs' inline scripts allowed by their exact hash."""

import base64
import hashlib
import re

import pytest
from django.test import Client

from voice_project.csp import inline_script_hashes

HEADER = "Content-Security-Policy"
HEADER_RO = "Content-Security-Policy-Report-Only"


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


# The settings' policy is built once (issue 14); these pin that the answers still say exactly what django-csp
# would, follow a changed setting, and that a nonce or a per-view change still takes django-csp's own path.


def _answer(request_path="/healthz", **attrs):
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    from voice_project.csp import VoiceCSPMiddleware

    answers = []
    for middleware_class in (VoiceCSPMiddleware, CSPMiddleware):
        response = HttpResponse("ok")
        for name, value in attrs.items():
            setattr(response, name, value)
        request = RequestFactory().get(request_path)
        middleware = middleware_class(lambda request, response=response: response)
        answers.append(middleware(request))
    return answers


def test_the_prebuilt_policy_is_django_csps_and_follows_the_settings(settings):
    ours, theirs = _answer()
    assert ours[HEADER] == theirs[HEADER] and "script-src 'self'" in ours[HEADER]
    assert HEADER_RO not in ours and HEADER_RO not in theirs
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    ours, theirs = _answer()
    assert ours[HEADER] == theirs[HEADER] == "default-src 'none'"
    assert ours[HEADER_RO] == theirs[HEADER_RO] and "img-src 'self'" in ours[HEADER_RO].split("; ")
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"]}, "EXCLUDE_URL_PREFIXES": ["/healthz"]}
    ours, theirs = _answer()
    assert HEADER not in ours and HEADER not in theirs


def test_a_per_view_change_still_changes_the_answer():
    ours, theirs = _answer(_csp_update={"img-src": ["https://example.com"]})
    assert "https://example.com" in ours[HEADER] and ours[HEADER] == theirs[HEADER]
    ours, theirs = _answer(_csp_exempt=True)
    assert HEADER not in ours and HEADER not in theirs


def test_a_nonce_asked_for_after_the_answer_is_refused():
    from csp.exceptions import CSPNonceError
    from django.http import HttpResponse
    from django.test import RequestFactory

    from voice_project.csp import VoiceCSPMiddleware

    request = RequestFactory().get("/healthz")
    VoiceCSPMiddleware(lambda request: HttpResponse("ok"))(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def test_a_nonce_used_while_answering_is_in_the_header(settings):
    from csp.constants import NONCE
    from django.http import HttpResponse
    from django.test import RequestFactory

    from voice_project.csp import VoiceCSPMiddleware

    def view(request):
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'", NONCE]}}
    request = RequestFactory().get("/healthz")
    response = VoiceCSPMiddleware(view)(request)
    assert f"'nonce-{request._csp_nonce}'" in response[HEADER]
