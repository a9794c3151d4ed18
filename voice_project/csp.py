"""Content-Security-Policy (django-csp): the pages load only what they ship, from this origin (finding 10).

One strict policy (settings.CONTENT_SECURITY_POLICY) covers every answer: the admin, the agent console (which keeps
a refresh token in sessionStorage, so an injected script must have nowhere to run from), the API's JSON.

The API documentation pages (Swagger UI, Redoc) are drf-spectacular's templates, which start their viewer with an
inline <script>. Rather than 'unsafe-inline', each of those scripts is allowed by its own SHA-256 hash, computed
from the page as served, so exactly the scripts the page ships run and an injected one does not. Their styles need
'unsafe-inline' (Redoc injects its styles at run time), and Redoc's search runs in a worker started from blob:.
"""

import base64
import hashlib
import http
import re

from csp.constants import HEADER, HEADER_REPORT_ONLY, UNSAFE_INLINE
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

API_DOCS_PREFIXES = ("/api/docs/", "/api/redoc/")
# An inline script: a <script> element without a src attribute, and its text exactly as the browser hashes it.
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)
# Data blocks (json_script) are not run, so they need no hash.
_DATA_BLOCK = re.compile(r"\btype\s*=\s*[\"']application/(?:ld\+)?json[\"']", re.IGNORECASE)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') for every inline script of `html`, in order, without repeats."""
    hashes: list[str] = []
    for found in _INLINE_SCRIPT.finditer(html):
        if _DATA_BLOCK.search(found.group(0).split(">", 1)[0]):
            continue
        digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
        source = f"'sha256-{digest}'"
        if source not in hashes:
            hashes.append(source)
    return hashes


def _html_of(response: HttpResponseBase) -> str | None:
    if getattr(response, "streaming", False) or not response.get("Content-Type", "").startswith("text/html"):
        return None
    return response.content.decode(response.charset or "utf-8", errors="replace")


# What a view or decorator may set to change its answer's policy (django-csp); an answer with none of them, to a
# request that used no nonce, gets the settings' policy unchanged.
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt",
    "_csp_exempt_ro",
)
_DEBUG_EXEMPT = (http.HTTPStatus.INTERNAL_SERVER_ERROR, http.HTTPStatus.NOT_FOUND)
# (the two settings objects, the two header values): built again only when a setting is replaced (a test's
# override_settings), compared by identity.
_settings_policy: list = [None, None, "", ""]


def _policies() -> tuple[str, str]:
    enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
    if _settings_policy[0] is not enforced or _settings_policy[1] is not report_only:
        _settings_policy[:] = [enforced, report_only, build_policy(), build_policy(report_only=True)]
    return _settings_policy[2], _settings_policy[3]


def _excluded(setting: str, request: HttpRequest) -> bool:
    prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
    return request.path_info.startswith(tuple(prefixes))


class VoiceCSPMiddleware(CSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """The settings' policy, built once instead of on every answer (issue 14: two build_policy() calls cost
        ~35 us of each webhook's CPU). Anything else (a nonce, a per-view change, the API docs, Django's debug
        pages) takes django-csp's own path."""
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
            or request.path_info.startswith(API_DOCS_PREFIXES)
            or (settings.DEBUG and response.status_code in _DEBUG_EXEMPT)
        ):
            return super().process_response(request, response)
        enforced, report_only = _policies()
        if enforced and HEADER not in response and not _excluded("CONTENT_SECURITY_POLICY", request):
            response[HEADER] = enforced
        if (
            report_only
            and HEADER_REPORT_ONLY not in response
            and not _excluded("CONTENT_SECURITY_POLICY_REPORT_ONLY", request)
        ):
            response[HEADER_REPORT_ONLY] = report_only
        # As django-csp does: a nonce asked for after the header was written raises instead of going unused.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(API_DOCS_PREFIXES) and parts.update is None:
            additions: dict[str, list[str]] = {"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]}
            html = _html_of(response)
            if html and (hashes := inline_script_hashes(html)):
                additions["script-src"] = hashes
            parts.update = additions
        return parts
