"""TwiML documents, built with twilio-python's VoiceResponse from plain values (no models, no requests).

Each public function returns one complete `<Response>`. `intro` is what the caller hears first (the greeting,
an apology for a misheard choice), given as Prompts.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

DEFAULT_VOICE = "Polly.Joanna"
DEFAULT_LANGUAGE = "en-US"
# Heard while waiting when the config has no hold music; the pause sets how often routing is retried.
WAIT_WITHOUT_MUSIC_SECONDS = 10
CONFERENCE_EVENTS = "start end join leave hold"


@dataclass(frozen=True)
class Prompt:
    """Something said (text-to-speech in `voice`/`language`) or played (`audio_url` wins when set)."""

    text: str = ""
    audio_url: str = ""
    voice: str = DEFAULT_VOICE
    language: str = DEFAULT_LANGUAGE

    def add_to(self, parent: VoiceResponse | Gather) -> None:
        if self.audio_url:
            parent.play(self.audio_url)
        elif self.text:
            parent.say(self.text, voice=self.voice or None, language=self.language or None)

    def with_text(self, text: str) -> "Prompt":
        return Prompt(text=text, voice=self.voice, language=self.language)


def _response(intro: Iterable[Prompt] = ()) -> VoiceResponse:
    response = VoiceResponse()
    for prompt in intro:
        prompt.add_to(response)
    return response


def empty() -> str:
    """Nothing to do (the answer to a status callback, whose TwiML Twilio ignores)."""
    return VoiceResponse().to_xml()


def message_and_hang_up(message: Prompt, *, intro: Sequence[Prompt] = ()) -> str:
    response = _response(intro)
    message.add_to(response)
    response.hangup()
    return response.to_xml()


def apology(*, fallback_url: str, speech: Prompt | None = None) -> str:
    """Decision 3: something broke on our side. Say so, then try the fallback route (or hang up)."""
    speech = speech or Prompt()
    response = _response([speech.with_text("We are sorry, something went wrong on our side.")])
    if fallback_url:
        response.redirect(fallback_url, method="POST")
    else:
        speech.with_text("Please call again later. Goodbye.").add_to(response)
        response.hangup()
    return response.to_xml()


def menu(
    *,
    prompt: Prompt,
    options: Sequence[str],
    action_url: str,
    timeout_seconds: int,
    hints: Sequence[str] = (),
    intro: Sequence[Prompt] = (),
) -> str:
    """The IVR menu: one key press or a few spoken words. Silence also posts to `action_url` (to re-prompt)."""
    response = _response(intro)
    gather = response.gather(
        input="dtmf speech",
        num_digits=1,
        action=action_url,
        method="POST",
        timeout=timeout_seconds,
        speech_timeout="auto",
        language=prompt.language or None,
        hints=", ".join(hints) or None,
        action_on_empty_result=True,
    )
    prompt.add_to(gather)
    for option in options:
        prompt.with_text(option).add_to(gather)
    return response.to_xml()


def wait_in_conference(
    *,
    conference_name: str,
    wait_url: str,
    status_callback_url: str,
    goodbye: Prompt | None = None,
    intro: Sequence[Prompt] = (),
) -> str:
    """Decision 4: the caller waits in the call's own conference, hearing `wait_url`, until an agent joins.

    The caller does not start the conference (so the wait TwiML plays) and ends it on leaving (so a ringing
    agent is not left alone). When the conference ends (the agent hung up), Dial returns and the caller
    hears the goodbye.
    """
    response = _response(intro)
    dial = Dial()
    dial.conference(
        conference_name,
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        beep=False,
        wait_url=wait_url,
        wait_method="POST",
        status_callback=status_callback_url,
        status_callback_method="POST",
        status_callback_event=CONFERENCE_EVENTS,
        participant_label="caller",
    )
    response.append(dial)
    if goodbye:
        goodbye.add_to(response)
    response.hangup()
    return response.to_xml()


def hold_music(
    *, music_url: str, next_url: str, speech: Prompt | None = None, announcement: Prompt | None = None
) -> str:
    """The conference wait TwiML: one round of hold music, then fetch `next_url` again (which retries routing).
    `announcement` (the caller's place in the queue) is said before the music."""
    response = VoiceResponse()
    if announcement is not None:
        announcement.add_to(response)
    if music_url:
        response.play(music_url)
    else:
        (speech or Prompt()).with_text("Please hold. Your call is important to us.").add_to(response)
        response.pause(length=WAIT_WITHOUT_MUSIC_SECONDS)
    response.redirect(next_url, method="POST")
    return response.to_xml()


def voicemail(
    *,
    prompt: Prompt,
    action_url: str,
    max_seconds: int,
    goodbye: Prompt,
    intro: Sequence[Prompt] = (),
    status_callback_url: str = "",
) -> str:
    """Ask for a message and record it; Twilio posts the recording to `action_url` (and its status later, to
    `status_callback_url` when given, else to `action_url` too)."""
    response = _response(intro)
    prompt.add_to(response)
    response.record(
        action=action_url,
        method="POST",
        max_length=max_seconds,
        timeout=5,
        finish_on_key="#",
        play_beep=True,
        recording_status_callback=status_callback_url or action_url,
        recording_status_callback_method="POST",
    )
    # Reached only when nothing was recorded (Twilio then skips the action URL).
    goodbye.add_to(response)
    response.hangup()
    return response.to_xml()


def forward(*, number: str, action_url: str, timeout_seconds: int = 30, intro: Sequence[Prompt] = ()) -> str:
    """Connect the caller to an outside number; Twilio posts the outcome to `action_url`."""
    response = _response(intro)
    response.dial(number, action=action_url, method="POST", timeout=timeout_seconds)
    return response.to_xml()
