"""DRF's content negotiation, except that an unknown `?format=` is a bad parameter (400 naming it), not DRF's 404
(as if the page did not exist). The schemathesis fuzz found it on the statistics, whose `format` is documented."""

from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Http404 as exc:
            if format_suffix:  # a URL's `.xyz` suffix: that URL does not exist
                raise
            formats = ", ".join(renderer.format for renderer in renderers)
            raise exceptions.ValidationError({"format": f"Must be one of: {formats}."}) from exc
