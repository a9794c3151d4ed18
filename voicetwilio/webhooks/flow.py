"""What a caller hears, decided from the line's VoiceConfig and the call's stored state.

incoming call -> unknown/disabled number: message, hang up
              -> closed (business hours, holidays): the after-hours action (message, voicemail, forward)
              -> greeting (audio or text-to-speech), then the IVR menu if the config has options
              -> routing: wait in the call's conference with hold music while an agent is rung

Every function returns TwiML (a string) and records what happened on the call's timeline. The call's stage
moves only as voiceconfig.calls.stage allows: a replayed or late webhook (a captured gather posted again, Twilio
asking twice) finds the call past that point, gets the TwiML for where the call really is, and changes nothing,
rings nobody.
"""

import logging
import re
from collections.abc import Sequence

from django.http import HttpRequest
from django.utils import timezone

from voiceconfig import calls as call_services
from voiceconfig.calls import StageEvent
from voiceconfig.calls.sql import call_with_line, ivr_options, line_with_config
from voiceconfig.models import (
    AfterHoursAction,
    Call,
    CallEvent,
    CallStage,
    Department,
    IvrAction,
    IvrOption,
    NoAgentsAction,
    PhoneLine,
    RecordingPolicy,
    VoiceConfig,
)

from .. import gateway, hours, routing, twiml
from ..links import webhook_url
from ..twiml import Prompt

logger = logging.getLogger(__name__)

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
NOT_IN_SERVICE = "Sorry, the number you have called is not in service. Goodbye."
GOODBYE = "Thank you for calling. Goodbye."
NOT_UNDERSTOOD = "Sorry, I did not get that."
NO_CHOICE = "Let me put you through to the next available agent."
CANNOT_CONNECT = "Sorry, we cannot connect your call right now. Goodbye."
SPOKEN_KEYS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "to": "2",
    "too": "2",
    "three": "3",
    "four": "4",
    "for": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "star": "*",
    "pound": "#",
    "hash": "#",
}


def speech_of(config: VoiceConfig | None) -> Prompt:
    if config is None:
        return Prompt()
    return Prompt(voice=config.voice, language=config.language)


def find_call(call_sid: str, *, with_options: bool = False) -> Call | None:
    if not CALL_SID.match(call_sid or ""):
        return None
    # The call with its line and config (select_related), in a statement built once (voiceconfig/calls/sql.py):
    # the ORM spent longer building this query on every webhook than PostgreSQL spends running it (issue 14).
    return call_with_line(call_sid, with_options=with_options)


def note_status(call: Call, status: str, *, source: str) -> bool:
    """Feed the caller's CallStatus that this request carries to the call's forward-only state.

    Returns True when the call has ended (the caller hung up before Twilio asked us): what we answer is ignored
    then, and the flow must not move a finished call on (queue it, send it to voicemail).
    """
    if not status:
        return False
    result = call_services.call_note_status(call=call, status=status, source=source)
    cancel_rings(result.legs_to_cancel)
    return not call.is_active


def cancel_rings(leg_sids: list[str]) -> None:
    """Hang up the agent legs still ringing for a caller who has hung up (a Twilio failure is only logged)."""
    for leg_sid in leg_sids:
        routing.hang_up_quietly(call_sid=leg_sid, why="the caller hung up while the agent's phone rang")


# --- the voice webhook -----------------------------------------------------------------------------------


def incoming(request: HttpRequest, *, call_sid: str, from_number: str, to_number: str, status: str) -> str:
    if not CALL_SID.match(call_sid):
        logger.warning("voice webhook without a valid CallSid: %r", call_sid)
        return twiml.message_and_hang_up(Prompt(text=CANNOT_CONNECT))
    line = line_for_incoming(to_number)
    if line is None or not line.enabled:
        call, created = call_services.call_start(
            call_sid=call_sid,
            from_number=from_number,
            to_number=to_number,
            line=line,
            status=status,
            stage=CallStage.REJECTED,
        )
        if created:
            reason = "unknown number" if line is None else "line disabled"
            call_services.call_log_add(
                call=call,
                call_sid=call_sid,
                event=CallEvent.ROUTING,
                message=f"Rejected: {reason} {to_number or '(Twilio sent no To number)'}.",
                data={"To": to_number, "From": from_number},
            )
        return twiml.message_and_hang_up(speech_of(line.config if line else None).with_text(NOT_IN_SERVICE))
    config = line.config
    # The line lookup said which of hours, holidays and IVR options the config has: only those are queried.
    is_open = not (line.has_hours or line.has_holidays) or hours.is_open(config=config, at=timezone.now())
    options = ivr_options(config) if line.has_options else []
    # Open and no menu: the caller goes straight to the queue, so the call is created queued (no enqueue UPDATE).
    queue_at_once = is_open and not options
    call, created = call_services.call_start(
        call_sid=call_sid,
        from_number=from_number,
        to_number=to_number,
        line=line,
        status=status,
        stage=CallStage.QUEUED if queue_at_once else CallStage.NEW,
    )
    call.phone_line = line
    if not created and note_status(call, status, source="voice"):
        return twiml.empty()
    if not created and call.stage not in (CallStage.NEW, CallStage.IVR):
        # Twilio asked again (or a request was replayed) for a call past the greeting: nothing starts again.
        return answer_for_stage(call, config, request)
    speech = speech_of(config)
    if not is_open:
        call_services.call_note_after_hours(
            call=call,
            message=f"Closed (business hours, {config.time_zone}): {config.get_after_hours_action_display()}.",
        )
        return after_hours(call, config, request)
    greeting = Prompt(
        text=config.greeting_text, audio_url=config.greeting_audio_url, voice=config.voice, language=config.language
    )
    if options:
        if call_services.call_count_ivr_prompt(call=call) is None:
            return answer_for_stage(call, config, request)
        return menu_twiml(call, config, options, request, intro=[greeting])
    return route(call, config, request, intro=[greeting], speech=speech, enqueued=created and queue_at_once)


def answer_for_stage(call: Call, config: VoiceConfig, request: HttpRequest) -> str:
    """What a replayed or late webhook is answered: the TwiML for where the call is now, changing nothing."""
    if not call.is_active:
        return twiml.empty()
    if call.stage in (CallStage.QUEUED, CallStage.CONNECTED):
        # Twilio asked again for a call that is waiting or talking: put it back in its conference.
        return conference_twiml(call, config, request)
    if call.stage == CallStage.VOICEMAIL and config.voicemail_enabled:
        return voicemail_twiml(call, config, request)
    return twiml.message_and_hang_up(speech_of(config).with_text(GOODBYE))


def line_for_incoming(to_number: str) -> PhoneLine | None:
    """The line called, its config, and whether the config has business hours, holidays and IVR options.

    Three EXISTS in the one query: most configs have none of them, and three queries that find nothing were
    a third of an incoming call's statements. A fixed-shape statement of the call package (voiceconfig/calls/
    sql.py), because the ORM spent longer building it on every call than the database spends running it.
    """
    return line_with_config(to_number)


def after_hours(call: Call, config: VoiceConfig, request: HttpRequest) -> str:
    speech = speech_of(config)
    action = config.after_hours_action
    if action == AfterHoursAction.FORWARD and config.after_hours_forward_to:
        return forward(call, config, config.after_hours_forward_to, request)
    if action == AfterHoursAction.VOICEMAIL:
        if not call_services.call_move_stage(call=call, event=StageEvent.VOICEMAIL):
            return answer_for_stage(call, config, request)
        return voicemail_twiml(call, config, request)
    if not call_services.call_move_stage(call=call, event=StageEvent.MESSAGE):
        return answer_for_stage(call, config, request)
    return twiml.message_and_hang_up(speech.with_text(config.after_hours_message or GOODBYE))


def forward(call: Call, config: VoiceConfig, number: str, request: HttpRequest, intro: Sequence[Prompt] = ()) -> str:
    if not call_services.call_move_stage(call=call, event=StageEvent.FORWARD):
        return answer_for_stage(call, config, request)
    call_services.call_log_add(
        call=call, call_sid=call.call_sid, event=CallEvent.ROUTING, message=f"Forwarded to {number}."
    )
    return twiml.forward(
        number=number, action_url=webhook_url("dial-callback", request, callSid=call.call_sid), intro=intro
    )


# --- the IVR menu ----------------------------------------------------------------------------------------


def menu_twiml(
    call: Call, config: VoiceConfig, options: list[IvrOption], request: HttpRequest, intro: Sequence[Prompt] = ()
) -> str:
    speech = speech_of(config)
    hints = [word for option in options for word in option.keyword_list()]
    return twiml.menu(
        prompt=speech.with_text(config.ivr_prompt or "Please choose from the following options."),
        options=[_option_sentence(option) for option in options if option.label],
        action_url=webhook_url("gather", request, callSid=call.call_sid),
        timeout_seconds=config.ivr_timeout_seconds,
        hints=hints,
        intro=intro,
    )


def _option_sentence(option: IvrOption) -> str:
    key = {"*": "star", "#": "pound"}.get(option.digit, option.digit)
    label = option.label.rstrip(".")
    return f"{label[:1].upper()}{label[1:]}, press {key}."


def choose_option(options: Sequence[IvrOption], *, digits: str, speech: str) -> IvrOption | None:
    """The option picked by a key press, else by the first option keyword (or key name) heard in the speech."""
    by_digit = {option.digit: option for option in options}
    if digits:
        return by_digit.get(digits.strip()[:1])
    text = re.sub(r"[^\w\s*#]", " ", (speech or "").lower())
    if not text.strip():
        return None
    padded = f" {' '.join(text.split())} "
    found: list[tuple[int, int, IvrOption]] = []
    for order, option in enumerate(options):
        for keyword in option.keyword_list():
            position = padded.find(f" {' '.join(keyword.split())} ")
            if position >= 0:
                found.append((position, order, option))
    if found:
        return min(found, key=lambda hit: (hit[0], hit[1]))[2]
    words = padded.split()
    for word in words:
        # "to"/"for" count as "two"/"four" only when said alone, never inside a sentence.
        if word in ("to", "too", "for") and len(words) > 1:
            continue
        key = SPOKEN_KEYS.get(word, word)
        if key in by_digit:
            return by_digit[key]
    return None


def gathered(
    request: HttpRequest,
    *,
    call_sid: str,
    digits: str,
    speech: str,
    confidence: str = "",
    status: str = "",
    finished_on_key: str = "",
) -> str:
    # The config's IVR options come with the call (one statement on PostgreSQL).
    call = find_call(call_sid, with_options=True)
    if call is None or call.phone_line is None:
        return twiml.message_and_hang_up(Prompt(text=CANNOT_CONNECT))
    ended = note_status(call, status, source="gather")
    config = call.phone_line.config
    if not ended and call.stage not in (CallStage.NEW, CallStage.IVR):
        # A replayed (or late) answer to a menu the caller has left: it must not move them again.
        return answer_for_stage(call, config, request)
    options = ivr_options(config)
    if not digits and finished_on_key and any(option.digit == finished_on_key for option in options):
        # Twilio leaves the finish key (# by default) out of Digits: an option on that key is chosen by it alone.
        digits = finished_on_key
    if options and not digits and not speech and finished_on_key:
        return _empty_entry(call, config, options, request, finished_on_key=finished_on_key, ended=ended)
    choice = choose_option(options, digits=digits, speech=speech)
    entry = {
        "dedupe_key": f"ivr:{call.ivr_attempts}",
        "message": f"Chose {choice}." if choice else "No valid choice.",
        "data": {k: v for k, v in {"digits": digits, "speech": speech, "confidence": confidence}.items() if v},
    }
    if not ended and choice is not None and choice.action == IvrAction.ROUTE:
        # The most common answer, to an agent: the entry, the choice and the wait in one statement (issue 14).
        enqueued = call_services.call_choose_and_enqueue(
            call=call, digit=choice.digit, department_id=choice.department_id, **entry
        )
        if not enqueued:
            # Past the queue already (connected, in voicemail, ended): a replay must ring nobody.
            return answer_for_stage(call, config, request)
        return route(call, config, request, speech=speech_of(config), department_id=choice.department_id, enqueued=True)
    call_services.call_log_add(
        call=call, call_sid=call_sid, event=CallEvent.IVR_INPUT, call_status=call.status, **entry
    )
    if ended:
        return twiml.empty()
    speech_prompt = speech_of(config)
    if choice is None:
        if not options or call.ivr_attempts >= config.ivr_max_attempts:
            return route(call, config, request, intro=[speech_prompt.with_text(NO_CHOICE)], speech=speech_prompt)
        if call_services.call_count_ivr_prompt(call=call) is None:
            return answer_for_stage(call, config, request)
        return menu_twiml(call, config, options, request, intro=[speech_prompt.with_text(NOT_UNDERSTOOD)])
    call_services.call_move_stage(call=call, event=StageEvent.CHOICE, ivr_choice=choice.digit)
    if choice.action == IvrAction.FORWARD and choice.forward_to:
        return forward(call, config, choice.forward_to, request)
    if choice.action == IvrAction.VOICEMAIL:
        if not call_services.call_move_stage(call=call, event=StageEvent.VOICEMAIL):
            return answer_for_stage(call, config, request)
        return voicemail_twiml(call, config, request)
    if choice.action == IvrAction.MESSAGE:
        if not call_services.call_move_stage(call=call, event=StageEvent.MESSAGE):
            return answer_for_stage(call, config, request)
        return twiml.message_and_hang_up(speech_prompt.with_text(choice.message or GOODBYE))
    return route(call, config, request, speech=speech_prompt, department_id=choice.department_id)


def _empty_entry(
    call: Call,
    config: VoiceConfig,
    options: list[IvrOption],
    request: HttpRequest,
    *,
    finished_on_key: str,
    ended: bool,
) -> str:
    """The caller pressed only the finish key: they ended the entry themselves, so it is no wrong attempt.

    Read the menu again without "Sorry" and without counting an attempt. Every press is its own timeline event
    (no dedupe key): the gather carries nothing that tells a second press from the first.
    """
    call_services.call_log_add(
        call=call,
        call_sid=call.call_sid,
        event=CallEvent.IVR_INPUT,
        call_status=call.status,
        message=f"Pressed {finished_on_key} with nothing before it: the menu is read again (not a wrong attempt).",
        data={"finishedOnKey": finished_on_key},
    )
    if ended:
        return twiml.empty()
    return menu_twiml(call, config, options, request)


# --- routing and waiting ---------------------------------------------------------------------------------


def route(
    call: Call,
    config: VoiceConfig,
    request: HttpRequest,
    *,
    intro: Sequence[Prompt] = (),
    speech: Prompt,
    enqueued: bool = False,
    department_id: int | None = None,
) -> str:
    """The caller starts waiting for an agent in the call's conference; the free agent (if any) is rung now.

    `enqueued`: the call was created queued (call_start), so it is waiting already. `department_id`: the IVR
    option's department the caller waits in (else the line's default).
    """
    if not enqueued and not call_services.call_enqueue(call=call, department_id=department_id):
        # Past the queue already (connected, in voicemail, ended): a replay must ring nobody.
        return answer_for_stage(call, config, request)
    turned_away = no_agents_answer(call, config, request, department_id=department_id, intro=intro)
    if turned_away is not None:
        return turned_away
    routing.route_waiting_callers(line=call.phone_line, request=request, call=call)
    if config.max_queue_wait_seconds == 0:
        # No waiting at all: with nobody rung for this caller, go straight to voicemail or the message.
        left = call_services.call_leave_queue(
            call_sid=call.call_sid, stage=_after_wait_stage(config), max_wait_seconds=0
        )
        if left is not None:
            return after_wait_twiml(left, config, request, intro=intro)
    return conference_twiml(call, config, request, intro=intro)


def recording_consent(config: VoiceConfig) -> tuple[Prompt, ...]:
    """What a caller hears before an agent may record them (docs/recording.md): nothing when recording is off."""
    if config.recording_policy == RecordingPolicy.OFF:
        return ()
    consent = Prompt(
        text=config.recording_consent_text,
        audio_url=config.recording_consent_audio_url,
        voice=config.voice,
        language=config.language,
    )
    return (consent,) if consent.text or consent.audio_url else ()


def department_of(call: Call, department_id: int | None = None) -> Department | None:
    """The department the caller waits in: the IVR option's, the call's, else the line's default (issue 16)."""
    department_id = department_id or call.department_id
    if department_id:
        return Department.objects.filter(pk=department_id).first()
    return call.phone_line.default_department if call.phone_line_id else None


def no_agents_answer(
    call: Call, config: VoiceConfig, request: HttpRequest, *, department_id: int | None, intro: Sequence[Prompt]
) -> str | None:
    """A full department, or one with nobody logged in, sends the caller to its no-agents action; None: wait."""
    department = department_of(call, department_id)
    if department is None:
        return None
    reason = call_services.department_turns_away(call=call, department=department)
    if reason is None:
        return None
    action = department.no_agents_action
    if action == NoAgentsAction.WAIT:
        if reason == call_services.NOBODY:
            return None
        action = _after_wait_stage(config)  # full, and the department says nothing else: the config's way out
    why = (
        f"Department {department.name} is full ({department.max_callers} waiting)"
        if reason == "full"
        else (f"Nobody is logged in to department {department.name}")
    )
    stage = {NoAgentsAction.FORWARD: CallStage.FORWARDED, NoAgentsAction.VOICEMAIL: CallStage.VOICEMAIL}.get(
        action, CallStage.MESSAGE
    )
    if not call_services.call_turn_away(call=call, stage=stage, why=f"{why}: the caller goes to {stage}."):
        return None  # an agent took the caller meanwhile: the conference answer below is right
    speech = speech_of(config)
    if stage == CallStage.FORWARDED:
        return twiml.forward(
            number=department.no_agents_forward_to,
            action_url=webhook_url("dial-callback", request, callSid=call.call_sid),
            intro=intro,
        )
    if stage == CallStage.VOICEMAIL:
        return voicemail_twiml(call, config, request, intro=intro)
    text = department.no_agents_message or config.unavailable_message or CANNOT_CONNECT
    return twiml.message_and_hang_up(speech.with_text(text), intro=intro)


def conference_twiml(call: Call, config: VoiceConfig, request: HttpRequest, intro: Sequence[Prompt] = ()) -> str:
    query = {"callSid": call.call_sid}
    # Recording is started over REST once an agent answers (voicetwilio.recording), never by the conference:
    # one dual-channel recording the agent can pause and stop.
    intro = (*intro, *recording_consent(config))
    return twiml.wait_in_conference(
        conference_name=call.conference_name or call_services.conference_name_for(call.call_sid),
        wait_url=webhook_url("queue-wait", request, **query),
        status_callback_url=webhook_url("conference-callback", request, **query),
        goodbye=speech_of(config).with_text(GOODBYE),
        intro=intro,
    )


def _after_wait_stage(config: VoiceConfig) -> str:
    return CallStage.VOICEMAIL if config.voicemail_enabled else CallStage.MESSAGE


def queue_wait(request: HttpRequest, *, call_sid: str, status: str = "") -> str:
    """The conference waitUrl, fetched when the caller joins and again after each round of hold music.

    Each fetch retries routing (the longest-waiting caller is served first) and, once this caller has waited
    the config's maximum with no agent ringing, sends them to voicemail (or the message) through the gateway.
    `status` is the caller's CallStatus when the request is the caller's own (Twilio answered: in-progress).
    """
    call = find_call(call_sid)
    config = call.phone_line.config if call is not None and call.phone_line else None
    if call is None or config is None:
        return twiml.hold_music(music_url="", next_url=webhook_url("queue-wait", request, callSid=call_sid))
    note_status(call, status, source="queue-wait")
    next_url = webhook_url("queue-wait", request, callSid=call.call_sid)
    if call.stage == CallStage.QUEUED and call.agent_id is None and call.is_active:
        routing.route_waiting_callers(line=call.phone_line, request=request, call=call)
        left = call_services.call_leave_queue(
            call_sid=call.call_sid, stage=_after_wait_stage(config), max_wait_seconds=max_wait_of(call, config)
        )
        if left is not None:
            try:
                gateway.redirect_call(
                    call_sid=call.call_sid, url=webhook_url("voicemail", request, callSid=call.call_sid)
                )
            except gateway.GatewayError as exc:
                call_services.call_back_to_queue(
                    call=left, reason=f"Could not send the caller to {left.stage}: {exc.message} They keep waiting."
                )
        else:
            # Waited long enough: "press 1 to be called back", once (issue 19). No query when the config offers none.
            from .. import callbacks

            callbacks.offer_if_due(request, call=call)
    department = department_of(call)
    return twiml.hold_music(
        music_url=(department.hold_music_url if department else "") or config.hold_music_url,
        next_url=next_url,
        speech=speech_of(config),
        announcement=place_announcement(call, config, department),
    )


def place_announcement(call: Call, config: VoiceConfig, department: Department | None) -> Prompt | None:
    """The caller's place and estimated wait (issue 16), when their department announces it, at most once a
    minute, in the config's voice and language."""
    if department is None or not department.announce_position:
        return None
    call.refresh_from_db(fields=["stage", "agent", "status", "queued_at"])
    if not (call.stage == CallStage.QUEUED and call.agent_id is None and call.is_active and call.queued_at):
        return None
    if not call_services.call_claim_announcement(call=call):
        return None
    place = call_services.queue_place(call=call, department=department)
    return speech_of(config).with_text(call_services.announcement_text(place))


def max_wait_of(call: Call, config: VoiceConfig) -> int:
    """The department's maximum wait when it sets one (issue 16), else the config's."""
    department = department_of(call)
    if department is not None and department.max_wait_seconds is not None:
        return department.max_wait_seconds
    return config.max_queue_wait_seconds


def after_wait_twiml(call: Call, config: VoiceConfig, request: HttpRequest, intro: Sequence[Prompt] = ()) -> str:
    """Nobody could take the call: voicemail when the config takes messages, else the unavailable message."""
    speech = speech_of(config)
    if config.voicemail_enabled:
        return voicemail_twiml(call, config, request, intro=intro)
    return twiml.message_and_hang_up(speech.with_text(config.unavailable_message or CANNOT_CONNECT), intro=intro)


def voicemail_twiml(call: Call, config: VoiceConfig, request: HttpRequest, intro: Sequence[Prompt] = ()) -> str:
    speech = speech_of(config)
    return twiml.voicemail(
        prompt=speech.with_text(config.voicemail_prompt or "Please leave a message after the tone."),
        action_url=webhook_url("recording-callback", request, callSid=call.call_sid, kind="voicemail"),
        max_seconds=config.voicemail_max_seconds,
        goodbye=speech.with_text(GOODBYE),
        intro=intro,
    )


def voicemail(request: HttpRequest, *, call_sid: str, status: str = "") -> str:
    """Where a caller who waited too long is redirected: voicemail, or the unavailable message."""
    call = find_call(call_sid)
    if call is None or call.phone_line is None:
        return twiml.message_and_hang_up(Prompt(text=CANNOT_CONNECT))
    if note_status(call, status, source="voicemail"):
        return twiml.empty()
    config = call.phone_line.config
    if call.stage not in (CallStage.VOICEMAIL, CallStage.MESSAGE):
        # Only a caller who left the queue (call_leave_queue moved them) is sent here: anything else is a replay.
        return answer_for_stage(call, config, request)
    return after_wait_twiml(call, config, request)
