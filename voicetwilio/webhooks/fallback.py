"""Twilio's fallback URL: what a caller hears when our call-flow webhooks fail, answered without the database.

Twilio fetches the number's "Primary handler fails" URL when the voice URL (or a later TwiML fetch) fails, which
is what happens while the database is down (webhooks/outage.py). So this answer must not need the database: what
it needs of the line's config (the forward number, whether it takes voicemail, the voice and language) travels in
the fallback URL's own query string, which we build while the database is up (`fallback_url`, printed for each
line by `manage.py webhook_urls`) and Twilio signs like any other part of the URL.

The caller hears an apology, then: the forward number (voicemail, if it takes messages, when nobody answers
there), else a voicemail `<Record>` whose recording callback is retried until it is stored, else goodbye.
"""

import logging
import re

from django.db import DatabaseError
from django.http import HttpRequest

from voiceconfig.models import PhoneLine

from .. import twiml
from ..links import webhook_url
from ..twiml import Prompt

logger = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Twilio <Say> voices ("Polly.Joanna", "Google.en-US-Neural2-F", "alice") and BCP-47 languages.
VOICE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,50}$")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
DEFAULT_MAX_SECONDS = 120
MAX_SECONDS_LIMIT = 3600
# What Twilio reports in DialCallStatus for a forward that was answered.
ANSWERED = {"completed", "answered"}

SORRY = "We are sorry, we cannot connect your call right now."
LEAVE_MESSAGE = "Please leave a message after the tone, then hang up."
THANKS = "Thank you for your message. Goodbye."
GOODBYE = "Please call again later. Goodbye."


def fallback_url(line: PhoneLine, request: HttpRequest | None = None) -> str:
    """The URL to set as the line's fallback ("Primary handler fails"), carrying what the fallback needs."""
    config = line.config
    query: dict[str, str | int] = {"line": line.phone_number, "voice": config.voice, "language": config.language}
    if line.enabled:
        if config.after_hours_forward_to:
            query["forward"] = config.after_hours_forward_to
        if config.voicemail_enabled:
            query["voicemail"] = 1
            query["maxSeconds"] = config.voicemail_max_seconds
    return webhook_url("fallback", request, **query)


def fallback_url_for_request(request: HttpRequest, call_sid: str) -> str:
    """Where our own apology (a bug, the database up) sends the caller: the fallback URL of the line called."""
    to_number = request.POST.get("To", "")
    try:
        line = PhoneLine.objects.select_related("config").filter(phone_number=to_number).first() if to_number else None
    except DatabaseError:
        line = None
    if line is None:
        return webhook_url("fallback", request, **({"callSid": call_sid} if call_sid else {}))
    return fallback_url(line, request)


def _speech(request: HttpRequest) -> Prompt:
    voice = request.GET.get("voice", "")
    language = request.GET.get("language", "")
    return Prompt(
        voice=voice if VOICE_NAME.match(voice) else twiml.DEFAULT_VOICE,
        language=language if LANGUAGE.match(language) else twiml.DEFAULT_LANGUAGE,
    )


def _max_seconds(request: HttpRequest) -> int:
    raw = request.GET.get("maxSeconds", "")
    return min(int(raw), MAX_SECONDS_LIMIT) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_SECONDS


def _this_url(request: HttpRequest, **step: str) -> str:
    """This fallback URL again (same signed query), with `step` telling which part of the fallback comes next."""
    query = {key: value for key, value in request.GET.items() if key != "step"}
    return webhook_url("fallback", request, **query, **step)


def _voicemail(request: HttpRequest, speech: Prompt, call_sid: str, intro: list[Prompt]) -> str:
    callback_query = {"kind": "voicemail", **({"callSid": call_sid} if call_sid else {})}
    return twiml.voicemail(
        prompt=speech.with_text(LEAVE_MESSAGE),
        # The <Record> action only thanks the caller (no database); the recording itself reaches the recording
        # callback, whose URL carries the retry overrides, so it is stored once the database answers again.
        action_url=_this_url(request, step="recorded"),
        status_callback_url=webhook_url("recording-callback", request, **callback_query),
        max_seconds=_max_seconds(request),
        goodbye=speech.with_text(GOODBYE),
        intro=intro,
    )


def answer(request: HttpRequest, *, call_sid: str, error_code: str, dial_status: str) -> str:
    """The fallback TwiML. Reads only the request: the signed query string and Twilio's form fields."""
    speech = _speech(request)
    step = request.GET.get("step", "")
    forward = request.GET.get("forward", "")
    takes_voicemail = request.GET.get("voicemail") == "1"
    logger.warning(
        "fallback URL used (step %s, Twilio error %s) CallSid=%s line=%s",
        step or "start",
        error_code or "-",
        call_sid or "-",
        request.GET.get("line", "") or "-",
    )
    if step == "recorded":
        return twiml.message_and_hang_up(speech.with_text(THANKS))
    if step == "dialed":
        if dial_status in ANSWERED or not takes_voicemail:
            return twiml.message_and_hang_up(speech.with_text("Goodbye." if dial_status in ANSWERED else GOODBYE))
        return _voicemail(request, speech, call_sid, intro=[])
    sorry = [speech.with_text(SORRY)]
    if E164.match(forward):
        return twiml.forward(
            number=forward,
            action_url=_this_url(request, step="dialed"),
            intro=[*sorry, speech.with_text("We are transferring your call.")],
        )
    if takes_voicemail:
        return _voicemail(request, speech, call_sid, intro=sorry)
    return twiml.message_and_hang_up(speech.with_text(GOODBYE), intro=sorry)
