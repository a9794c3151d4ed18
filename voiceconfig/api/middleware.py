"""Error envelope for what happens outside DRF views: unknown URLs, oversized bodies, Django's own error pages.

DRF's exception handler (errors.py) covers every error raised inside an API view. Django answers some requests
before or around any view (no URL matches, the body is too large, a bad Host header) with an HTML page; with
DEBUG on even the 404 page is Django's HTML debug page. API clients must get the JSON envelope instead, so this
middleware turns those responses into it. The admin keeps its HTML pages.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .errors import envelope

# Paths a person uses in a browser: their HTML error pages stay as they are.
HTML_PREFIXES = ("/admin/", "/static/")

_MESSAGES = {
    400: "The request could not be understood.",
    403: "You may not do this.",
    404: "No such resource: {path}",
    405: "Method {method} is not allowed here.",
    413: "The request body is larger than the {limit} bytes the API accepts.",
}


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class JsonErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(HTML_PREFIXES):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _content_length(request) > limit:
            # Refuse before anything reads the body: no parser ever holds a huge document in memory.
            return self._error(request, 413, limit=limit)
        response = self.get_response(request)
        if self._is_html_client_error(response):
            return self._error(request, response.status_code, allow=response.get("Allow"))
        return response

    @staticmethod
    def _is_html_client_error(response: HttpResponse) -> bool:
        if not 400 <= response.status_code < 500:
            return False
        if getattr(response, "accepted_renderer", None) is not None:
            # A DRF response: already the envelope, as JSON or in the browsable API the client asked for.
            return False
        content_type = response.get("Content-Type", "")
        return content_type.startswith("text/html") or content_type.startswith("text/plain")

    @staticmethod
    def _error(request: HttpRequest, status: int, *, limit: int | None = None, allow: str | None = None):
        template = _MESSAGES.get(status, "The request failed.")
        message = template.format(path=request.path, method=request.method, limit=limit)
        response = JsonResponse(envelope(status, message), status=status)
        if allow:
            response["Allow"] = allow
        return response
