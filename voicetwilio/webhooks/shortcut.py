"""Twilio's webhooks skip the middleware made for people (issue 14): sessions, auth, two-factor, messages, CSRF.

A webhook is called by Twilio, never by a browser: it has no session cookie, no user and no messages, and its
authentication is Twilio's request signature, which every webhook view checks itself (`twilio_webhook`). The
middleware after this one in settings.MIDDLEWARE only costs such a request time, so for a webhook path it is
bypassed: this middleware resolves the URL and calls the view. The middleware before it (security headers, CSP,
the TwiML answer on a 5xx, the JSON error envelope, the request's log line and CallSid) still wraps the webhook,
and an exception raised by the view still becomes the same 500 there. Every other path takes the whole stack.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import resolve

from voice_project.server_errors import is_webhook


class WebhookShortcutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_webhook(request.path_info):
            return self.get_response(request)
        match = resolve(request.path_info)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        # What XFrameOptionsMiddleware would add, so a webhook's answer carries the same headers as before.
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
