"""/api/redoc/ served entirely from this machine (issue 12 item 6; the project uses no CDN).

drf-spectacular-sidecar ships Redoc's bundle, but the bundle itself shows Redocly's logo from cdn.redoc.ly in its
sidebar footer, and drf-spectacular's page links web fonts from Google. Here the page (templates/api_docs/) uses
the system's fonts, and the bundle is served by `redoc_bundle` with the logo's address replaced by an inline
image, read once from the installed sidecar package (so an upgrade of the package needs nothing here).
"""

from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from drf_spectacular.views import SpectacularRedocView

SIDECAR_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOCLY_LOGO_URL = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# An empty image: the footer keeps its "API docs by Redocly" link, without a request to Redocly's CDN.
INLINE_LOGO = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"
# Readable by anyone; it changes only with the installed package, so browsers may keep it a day.
BUNDLE_MAX_AGE_SECONDS = 86400


@cache
def _local_bundle() -> bytes:
    path = finders.find(SIDECAR_BUNDLE)
    if path is None:
        raise FileNotFoundError(f"{SIDECAR_BUNDLE} is not installed (drf-spectacular-sidecar)")
    with open(path, encoding="utf-8") as bundle:
        return bundle.read().replace(REDOCLY_LOGO_URL, INLINE_LOGO).encode()


def redoc_bundle(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_local_bundle(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={BUNDLE_MAX_AGE_SECONDS}"
    return response


class LocalRedocView(SpectacularRedocView):
    """drf-spectacular's Redoc page, with the local bundle and no web fonts."""

    template_name = "api_docs/redoc.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("redoc-bundle")
