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
import re

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
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


class VoiceCSPMiddleware(CSPMiddleware):
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
