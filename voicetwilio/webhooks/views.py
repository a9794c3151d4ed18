"""Thin webhook endpoints (being built: issue 3)."""

from django.http import HttpRequest

from ..signature import twilio_webhook
from ..twiml import empty


@twilio_webhook
def _placeholder(request: HttpRequest) -> str:
    return empty()


voice = gather = status_callback = fallback = participant_callback = conference_callback = _placeholder
queue_wait = voicemail = recording_callback = dial_callback = _placeholder
