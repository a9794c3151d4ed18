"""Twilio-facing webhooks (webhook_urls) and the agent console API (console/urls.py), under /voicetwilio/."""

from django.urls import include, path

urlpatterns = [
    path("", include("voicetwilio.webhook_urls")),
    path("", include("voicetwilio.console.urls")),
]
