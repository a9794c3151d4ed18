"""One call leg, played by its own thread: ringing, answering, and every TwiML verb the app returns.

Each leg fetches its TwiML, follows action URLs and redirects, and reacts to steering from elsewhere
(a REST update, the person hanging up, a conference ending) at any wait, as Twilio does: a redirect abandons
the current document, a hang-up ends the leg. Durations are clock seconds: a <Say> lasts as long as its words
take to speak, a <Play> `play_seconds`, a ring as long as the person lets it ring.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import twiml
from .model import Call, Conference, Participant, PartyInput
from .twiml import Document, Verb
from .util import TWILIO_DEFAULT_HOLD_MUSIC, as_bool, as_int, event_set, quote_text, rfc2822

if TYPE_CHECKING:
    from .people import RingPlan
    from .world import World

logger = logging.getLogger(__name__)

WORDS_PER_SECOND = 2.5
DTMF = "0123456789*#"
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
SPEECH_CONFIDENCE = "0.9170929"


class Hangup(Exception):
    """The leg ends now; `reason` says why (party, api, twiml, end-of-twiml, no-answer, ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Redirected(Exception):
    """A REST update gave the call new TwiML: ("url", url, method) or ("twiml", xml, "")."""

    def __init__(self, target: tuple[str, str, str]):
        super().__init__(target[1])
        self.target = target


def punctuate(words: str) -> str:
    """Twilio's recogniser capitalises and punctuates: 'sales' comes back as 'Sales.'."""
    words = " ".join(words.split())
    if not words:
        return words
    words = words[0].upper() + words[1:]
    return words if words[-1] in ".?!" else words + "."


class Leg:
    def __init__(self, world: "World", call: Call):
        self.world = world
        self.call = call
        self.clock = world.clock
        self.lock = world.lock
        self.timeline = world.timeline

    # ======================================================================================
    # entry points (each runs on the leg's own thread)
    # ======================================================================================
    def run_inbound(self) -> None:
        def body() -> None:
            self.world.set_status(self.call, "ringing")
            doc = self.fetch(self.call.url, self.call.method, purpose="voice")
            self.run_documents(doc)

        self._run(body)

    def run_outbound(self) -> None:
        """A call created through the Calls API: ring the person, then run the call's URL or TwiML."""

        def body() -> None:
            call = self.call
            self.clock.sleep(0)  # the API answers before the phone starts ringing
            outcome = self.ring_out()
            if outcome != "answered":
                raise Hangup(outcome)
            call.party.connected(self.world, call)
            doc = self.parse_inline(call.twiml) if call.twiml else self.fetch(call.url, call.method, purpose="call url")
            self.run_documents(doc)

        self._run(body)

    def run_participant(self, conference: Conference, participant: Participant) -> None:
        """A leg the Participants API dials into a conference; it hangs up when it leaves the conference."""

        def body() -> None:
            call = self.call
            self.clock.sleep(0)
            outcome = self.ring_out(participant=participant)
            if outcome != "answered":
                self.world.leave_conference(conference, participant, reason="participant_did_not_answer")
                raise Hangup(outcome)
            call.party.connected(self.world, call)
            try:
                self.world.join_conference(conference, participant)
                self.in_conference(conference, participant)
            except Redirected as redirected:
                self.world.leave_conference(conference, participant, reason="participant_updated_via_api")
                self.run_documents(self.fetch_target(redirected.target))
                return
            finally:
                self.world.leave_conference(conference, participant, reason=self._leave_reason(participant))
            raise Hangup("conference")

        self._run(body)

    def run_redirected(self, target: tuple[str, str, str]) -> None:
        """A leg taken out of a bridge by a REST update continues with its new TwiML."""
        self._run(lambda: self.run_documents(self.fetch_target(target)))

    def _run(self, body: Callable[[], None]) -> None:
        call = self.call
        try:
            body()
            self.end("end-of-twiml")
        except Hangup as hangup:
            self.end(hangup.reason)
        except Redirected as redirected:  # steered away during a wait with no document to abandon
            try:
                self.run_documents(self.fetch_target(redirected.target))
                self.end("end-of-twiml")
            except Hangup as hangup:
                self.end(hangup.reason)
        except Exception as exc:
            logger.exception("emulator leg %s crashed", call.sid)
            self.timeline.add("emulator", "error", f"internal emulator error on {call.who}'s leg: {exc!r}")
            self.end("failed")

    # ======================================================================================
    # waiting, hearing, ending
    # ======================================================================================
    def wait(self, seconds: float | None, until: Callable[[], bool] | None = None) -> bool:
        """Wait `seconds` (None: as long as needed) or until `until()`; raise if the call is steered away."""
        call = self.call

        def ready() -> bool:
            return call.hangup is not None or call.redirect is not None or (until is not None and until())

        if seconds is None and until is None:
            until = lambda: False  # noqa: E731  (only a hang-up or a redirect ends this wait)
        self.clock.wait(ready, seconds)
        self.check()
        return until is not None and bool(until())

    def check(self) -> None:
        with self.lock:
            call = self.call
            if call.hangup is not None:
                raise Hangup(call.hangup)
            if call.redirect is not None:
                target, call.redirect = call.redirect, None
                raise Redirected(target)

    def hear(self, text: str) -> None:
        self.timeline.add(self.call.who, "hear", f"hears {text}", call=self.call.sid)

    def answer(self) -> None:
        if not self.call.answered:
            self.world.set_status(self.call, "in-progress")

    def end(self, reason: str) -> None:
        """Finish the leg with the status its ending implies and say who hung up."""
        call = self.call
        with self.lock:
            if call.ended:
                return
            answered = call.answered
        descriptions = {
            "party": f"{call.who} hangs up",
            "twiml": "Twilio hangs up (<Hangup>)",
            "end-of-twiml": "Twilio hangs up: the TwiML has no more verbs",
            "api": "hung up through the REST API",
            "kicked": "removed from the conference through the REST API: the leg hangs up",
            "conference": "the conference is over for this leg: it hangs up",
            "application-error": "Twilio hangs up after an application error",
            "reject": "Twilio rejects the call (not in service)",
            "reject-busy": "Twilio rejects the call (busy signal)",
            "no-answer": f"{call.who} does not answer",
            "busy": f"{call.who} declines (busy)",
            "failed": "the call fails",
            "emulator-stopped": "the emulator stops: hanging up",
        }
        if answered:
            status = "completed"
        else:
            status = {
                "reject": "no-answer",
                "reject-busy": "busy",
                "no-answer": "no-answer",
                "busy": "busy",
                "failed": "failed",
                # An inbound call whose TwiML ran (even an empty <Response/>) was answered by Twilio.
                "end-of-twiml": "completed" if call.direction == "inbound" else "canceled",
                "application-error": "completed",
            }.get(reason, "canceled")
        if reason != "party":  # the person said so when they hung up
            self.timeline.add(call.who, "note", descriptions.get(reason, reason))
        if status == "completed" and not answered:
            with self.lock:
                call.answered_at = self.clock.now()
        self.world.set_status(call, status)

    # ======================================================================================
    # fetching TwiML
    # ======================================================================================
    def params(self, **extra: str) -> dict[str, str]:
        params = self.world.call_params(self.call)
        params.update({k: v for k, v in extra.items() if v is not None})
        return params

    def fetch(
        self, url: str, method: str, *, purpose: str, extra: dict[str, str] | None = None, critical: bool = True
    ) -> Document | None:
        """Ask the app for TwiML. On failure use the fallback URL; if that fails too, apologise and hang up.

        With `critical=False` (wait and hold music) a failure is logged and None returned instead.
        """
        params = self.params(**(extra or {}))
        doc, code, why = self._fetch_once(url, method, params, purpose)
        if doc is not None:
            return doc
        self.timeline.add("twilio", "error", f"Twilio error {code} fetching {purpose} TwiML: {why}", url=url)
        if not critical:
            return None
        call = self.call
        if call.fallback_url and url != call.fallback_url:
            fallback_params = dict(params, ErrorCode=str(code), ErrorUrl=url)
            doc, code, why = self._fetch_once(call.fallback_url, call.fallback_method, fallback_params, "fallback")
            if doc is not None:
                return doc
            self.timeline.add("twilio", "error", f"Twilio error {code} fetching the fallback URL: {why}")
        self.answer()
        self.hear(quote_text(APPLICATION_ERROR))
        raise Hangup("application-error")

    def _fetch_once(
        self, url: str, method: str, params: dict[str, str], purpose: str
    ) -> tuple[Document | None, int, str]:
        if not url:
            return None, 11100, "no URL"
        if not self.world.is_local(url):
            return None, 11200, f"{url} is not on this machine (the emulator never calls the internet)"
        answer = self.world.send(url, method, params, who=self.call.who, what=purpose)
        if answer.error:
            return None, 11205 if "11205" in answer.error else 11200, answer.error
        if not answer.ok:
            return None, 11200, f"HTTP {answer.status}"
        content_type = answer.content_type.split(";")[0].strip().lower()
        if content_type.startswith("audio/"):
            return Document(url=url, method=method, verbs=[Verb("Play", text=url)]), 0, ""
        if content_type not in ("text/xml", "application/xml", "text/html", ""):
            return None, 12300, f"Content-Type {content_type!r} is not TwiML"
        try:
            return twiml.parse(answer.text, url=url, method=method), 0, ""
        except twiml.TwimlError as exc:
            return None, exc.code, exc.message

    def parse_inline(self, xml: str) -> Document:
        try:
            return twiml.parse(xml, url=self.call.url or self.world.app_url + "/", method="POST")
        except twiml.TwimlError as exc:
            self.timeline.add("twilio", "error", f"Twilio error {exc.code} in inline TwiML: {exc.message}")
            self.answer()
            self.hear(quote_text(APPLICATION_ERROR))
            raise Hangup("application-error") from exc

    def fetch_target(self, target: tuple[str, str, str]) -> Document | None:
        kind, value, method = target
        if kind == "twiml":
            return self.parse_inline(value)
        with self.lock:
            self.call.url, self.call.method = value, method or "POST"
        return self.fetch(value, method or "POST", purpose="redirect")

    def post_only(self, url: str, method: str, *, purpose: str, extra: dict[str, str]) -> None:
        """A request whose answer Twilio ignores (the action after the caller hung up)."""
        if url and self.world.is_local(url):
            self.world.send(url, method, self.params(**extra), who=self.call.who, what=purpose)

    # ======================================================================================
    # running documents
    # ======================================================================================
    def run_documents(self, doc: Document | None) -> None:
        while doc is not None:
            try:
                doc = self.execute(doc)
            except Redirected as redirected:
                doc = self.fetch_target(redirected.target)

    def execute(self, doc: Document) -> Document | None:
        """Play the verbs in order; a verb that moves to another document returns it."""
        for verb in doc.verbs:
            self.check()
            if verb.name not in twiml.PLAYED_VERBS:
                self.timeline.add("emulator", "warning", f"<{verb.name}> is not emulated; skipped")
                continue
            if verb.name != "Reject":
                self.answer()
            following = getattr(self, f"verb_{verb.name.lower()}")(verb, doc)
            if following is not None:
                return following
        return None

    # --- media: Say, Play, Pause ---------------------------------------------------------
    def media(self, verb: Verb, doc: Document, until: Callable[[], bool] | None = None) -> bool:
        """Play one Say/Play/Pause; True when `until` became true during it (barge-in, hold ended...)."""
        loops = as_int(verb.attr("loop"), 1)
        if verb.name == "Say":
            seconds = max(1.0, len(verb.text.split()) / WORDS_PER_SECOND)
            voice = verb.attr("voice")
            self.hear(quote_text(verb.text) + (f" ({voice})" if voice else "") + (f" x{loops}" if loops > 1 else ""))
        elif verb.name == "Play":
            seconds = self.world.play_seconds
            if verb.attr("digits"):
                self.hear(f"Twilio send the keys {verb.attr('digits')}")
                return self.wait(1.0, until)
            self.hear(f"audio {verb.text.strip()}" + (" (looping)" if loops == 0 else ""))
        elif verb.name == "Pause":
            return self.wait(float(as_int(verb.attr("length"), 1)), until)
        else:
            self.timeline.add("twilio", "warning", f"<{verb.name}> cannot be played here; skipped")
            return False
        if loops == 0:
            return self.wait(None, until)
        return self.wait(seconds * max(1, loops), until)

    def verb_say(self, verb: Verb, doc: Document) -> None:
        self.world.set_activity(self.call, "hearing", text=verb.text)
        self.media(verb, doc)

    def verb_play(self, verb: Verb, doc: Document) -> None:
        self.world.set_activity(self.call, "hearing", url=verb.text)
        self.media(verb, doc)

    def verb_pause(self, verb: Verb, doc: Document) -> None:
        self.world.set_activity(self.call, "silence")
        self.media(verb, doc)

    # --- control: Redirect, Hangup, Reject, Leave --------------------------------------------
    def verb_redirect(self, verb: Verb, doc: Document) -> Document | None:
        url = self.world.absolute(doc.url, verb.text.strip())
        return self.fetch(url, verb.attr("method") or "POST", purpose="redirect")

    def verb_hangup(self, verb: Verb, doc: Document) -> None:
        raise Hangup("twiml")

    def verb_reject(self, verb: Verb, doc: Document) -> None:
        if self.call.answered:
            self.timeline.add("twilio", "warning", "<Reject> after the call was answered acts as <Hangup>")
            raise Hangup("twiml")
        raise Hangup("reject-busy" if verb.attr("reason") == "busy" else "reject")

    def verb_leave(self, verb: Verb, doc: Document) -> None:
        self.timeline.add("twilio", "warning", "<Leave> outside a queue's wait music does nothing")

    def verb_enqueue(self, verb: Verb, doc: Document) -> None:
        self.timeline.add("emulator", "warning", "<Enqueue> is not emulated (the product queues in conferences)")

    # --- Gather ------------------------------------------------------------------------------
    def verb_gather(self, verb: Verb, doc: Document) -> Document | None:
        call = self.call
        inputs = event_set(verb.attr("input") or "dtmf")
        timeout = as_int(verb.attr("timeout"), 5)
        num_digits = as_int(verb.attr("numDigits"), 0)
        finish_keys = verb.attrs.get("finishOnKey", "#")
        action = self.world.absolute(doc.url, verb.attr("action")) or doc.url
        method = verb.attr("method") or "POST"
        on_empty = as_bool(verb.attr("actionOnEmptyResult"), False)
        with self.lock:
            call.input = None
        detail = {"inputs": sorted(inputs), "num_digits": num_digits}
        self.world.set_activity(call, "gather", phase="prompt", **detail)

        def has_input() -> bool:
            return call.input is not None

        barged = False
        for child in verb.children:
            if self.media(child, doc, until=has_input):
                barged = True
                break
        if not barged:
            self.world.set_activity(call, "gather", phase="listening", **detail)
        deadline = self.clock.now() + timeout
        result: dict[str, str] | None = None
        while result is None:
            if not has_input():
                remaining = deadline - self.clock.now()
                if remaining <= 0 or not self.wait(remaining, has_input):
                    break
            with self.lock:
                given, call.input = call.input, None
            result = self._gather_result(given, inputs, num_digits, finish_keys, timeout)
        if result is None:
            self.timeline.add("twilio", "note", f"<Gather> heard nothing in {timeout} s")
            if not on_empty:
                return None
            result = {}
        result["msg"] = "Gather End"
        return self.fetch(action, method, purpose="gather", extra=result)

    def _gather_result(
        self, given: PartyInput | None, inputs: set[str], num_digits: int, finish_keys: str, timeout: int
    ) -> dict[str, str] | None:
        if given is None:
            return None
        if given.kind == "dtmf":
            if "dtmf" not in inputs:
                self.timeline.add("twilio", "warning", "keys pressed, but this <Gather> listens for speech only")
                return None
            keys = "".join(key for key in given.value if key in DTMF)
            digits, finished = keys, ""
            hits = [keys.index(key) for key in finish_keys if key in keys]
            if hits:
                digits, finished = keys[: min(hits)], keys[min(hits)]
            if num_digits and len(digits) >= num_digits:
                digits, finished = digits[:num_digits], ""
            elif not finished:
                # No finish key and too few digits: Twilio submits what it has after `timeout` seconds.
                self.wait(float(timeout))
            return {"Digits": digits, "FinishedOnKey": finished}
        if given.kind == "speech":
            if "speech" not in inputs:
                self.timeline.add("twilio", "warning", "words spoken, but this <Gather> listens for keys only")
                return None
            return {"SpeechResult": punctuate(given.value), "Confidence": SPEECH_CONFIDENCE}
        self.timeline.add("twilio", "warning", f"{given.kind} is not something a <Gather> understands")
        return None

    # --- Record ------------------------------------------------------------------------------
    def verb_record(self, verb: Verb, doc: Document) -> Document | None:
        call = self.call
        action = self.world.absolute(doc.url, verb.attr("action")) or doc.url
        method = verb.attr("method") or "POST"
        timeout = as_int(verb.attr("timeout"), 5)
        finish_keys = verb.attrs.get("finishOnKey", "1234567890*#")
        max_length = as_int(verb.attr("maxLength"), 3600) or 3600
        status_url = self.world.absolute(doc.url, verb.attr("recordingStatusCallback"))
        status_method = verb.attr("recordingStatusCallbackMethod") or "POST"
        status_events = event_set(verb.attr("recordingStatusCallbackEvent") or "completed")
        if as_bool(verb.attr("playBeep"), True):
            self.hear("a beep")
        with self.lock:
            call.input = None
        self.world.set_activity(call, "record", max_length=max_length)
        if not self.wait(float(timeout), lambda: call.input is not None):
            self.timeline.add("twilio", "note", f"<Record> heard silence for {timeout} s: nothing recorded")
            return None
        with self.lock:
            given, call.input = call.input, None
        if given.kind == "speech":
            given = PartyInput("message", seconds=max(1.0, len(given.value.split()) / WORDS_PER_SECOND), end="silence")
        if given.kind != "message" or given.seconds <= 0:
            self.timeline.add("twilio", "note", "<Record> ended before anything was said: nothing recorded")
            return None
        seconds = min(given.seconds, float(max_length))
        self.timeline.add(call.who, "act", f"leaves a message ({seconds:g} s)")
        hung_up, digits = False, ""
        try:
            self.wait(seconds)
        except Hangup as hangup:
            if hangup.reason != "party":
                raise
            hung_up = True
        if not hung_up and given.seconds <= max_length:
            if given.end == "hangup":
                self.timeline.add(call.who, "act", "hangs up")
                hung_up = True
            elif given.end in finish_keys:
                digits = given.end
                self.timeline.add(call.who, "act", f"presses {digits} to finish the message")
            else:
                self.wait(float(timeout))  # the silence that ends the recording
        recording = self.world.new_recording(call, int(round(seconds)))
        extra = {
            "RecordingUrl": self.world.recording_url(recording.sid),
            "RecordingSid": recording.sid,
            "RecordingDuration": str(recording.duration),
            "Digits": "hangup" if hung_up else digits,
        }
        following: Document | None = None
        if hung_up:
            self.end("party")
            # Twilio still reports the recording to the action URL and ignores the answer.
            self.post_only(action, method, purpose="record", extra=extra)
        else:
            following = self.fetch(action, method, purpose="record", extra=extra)
        if status_url and "completed" in status_events:
            params = {
                "AccountSid": call.account_sid,
                "CallSid": call.sid,
                "RecordingSid": recording.sid,
                "RecordingUrl": extra["RecordingUrl"],
                "RecordingStatus": "completed",
                "RecordingDuration": str(recording.duration),
                "RecordingChannels": "1",
                "RecordingStartTime": rfc2822(self.clock.datetime()),
                "RecordingSource": "RecordVerb",
                "ErrorCode": "0",
            }
            self.world.post_callback(status_url, status_method, params, call.who, "recording")
        if hung_up:
            raise Hangup("party")
        return following

    # --- Dial --------------------------------------------------------------------------------
    def verb_dial(self, verb: Verb, doc: Document) -> Document | None:
        action = self.world.absolute(doc.url, verb.attr("action"))
        method = verb.attr("method") or "POST"
        nouns = verb.children or [Verb("Number", text=verb.text)]
        conference = next((noun for noun in nouns if noun.name == "Conference"), None)
        self._dial_result: dict[str, str] = {}
        try:
            if conference is not None:
                self.dial_conference(conference, doc)
            elif any(noun.name == "Queue" for noun in nouns):
                self.timeline.add("emulator", "warning", "<Dial><Queue> is not emulated")
            else:
                self.dial_parties(verb, nouns, doc)
        except Hangup as hangup:
            if hangup.reason == "party" and action:
                # The caller hung up during the <Dial>: Twilio still requests the action and ignores its answer.
                self.end("party")
                self.post_only(action, method, purpose="dial", extra=self._dial_result)
            raise
        if action:
            return self.fetch(action, method, purpose="dial", extra=self._dial_result)
        return None

    def _new_child(self, noun: Verb, doc: Document, dial: Verb) -> Call | None:
        call = self.call
        if noun.name == "Number":
            # Twilio presents the original caller's number unless callerId says otherwise.
            to, from_ = noun.text.strip(), dial.attr("callerId") or call.from_
        elif noun.name == "Client":
            identity = noun.text.strip() or next((c.text for c in noun.children if c.name == "Identity"), "")
            to = f"client:{identity.strip()}"
            from_ = dial.attr("callerId") or call.from_
        elif noun.name == "Sip":
            to, from_ = noun.text.strip(), dial.attr("callerId") or call.from_
        else:
            self.timeline.add("emulator", "warning", f"<Dial><{noun.name}> is not emulated")
            return None
        party = self.world.directory.party_for(to)
        return self.world.new_call(
            from_=from_,
            to=to,
            direction="outbound-dial",
            who=party.name,
            party=party,
            parent_sid=call.sid,
            url=self.world.absolute(doc.url, noun.attr("url")),
            method=noun.attr("method") or "POST",
            status_callback=self.world.absolute(doc.url, noun.attr("statusCallback")),
            status_callback_method=noun.attr("statusCallbackMethod") or "POST",
            status_callback_events=event_set(noun.attr("statusCallbackEvent") or "completed"),
            timeout=as_int(dial.attr("timeout"), 30),
        )

    def dial_parties(self, dial: Verb, nouns: list[Verb], doc: Document) -> None:
        call = self.call
        timeout = float(as_int(dial.attr("timeout"), 30))
        time_limit = float(as_int(dial.attr("timeLimit"), 14400))
        children = [child for child in (self._new_child(noun, doc, dial) for noun in nouns) if child is not None]
        if not children:
            self._dial_result = {"DialCallStatus": "failed"}
            return
        plans: dict[str, RingPlan] = {}
        for child in children:
            self.world.set_status(child, "initiated")
            plans[child.sid] = child.party.ring(child)
            self.world.set_status(child, "ringing")
            self.timeline.add(child.who, "state", f"{child.to} rings")
        self.world.set_activity(call, "ringback")
        self.hear("ringing")
        self._dial_result = {"DialCallStatus": "canceled"}
        started = self.clock.now()
        winner: Call | None = None
        try:
            while True:
                pending = [child for child in children if not child.ended]
                if not pending:
                    statuses = {child.status for child in children}
                    outcome = "busy" if statuses == {"busy"} else "no-answer" if "no-answer" in statuses else "failed"
                    self._dial_result = {"DialCallStatus": outcome}
                    return
                events: list[tuple[float, str, Call | None]] = [(started + timeout, "timeout", None)]
                for child in pending:
                    plan = plans[child.sid]
                    if plan.busy_after is not None:
                        events.append((started + plan.busy_after, "busy", child))
                    elif plan.answer_after is not None:
                        events.append((started + plan.answer_after, "answer", child))
                at, kind, target = min(events, key=lambda event: event[0])
                if self.wait(max(0.0, at - self.clock.now()), lambda pending=pending: any(c.hangup for c in pending)):
                    for child in pending:
                        if child.hangup:
                            self.world.set_status(child, "canceled")
                    continue
                if kind == "timeout":
                    for child in pending:
                        self.timeline.add(child.who, "note", f"does not answer within {timeout:g} s")
                        self.world.set_status(child, "no-answer")
                    self._dial_result = {"DialCallStatus": "no-answer"}
                    return
                if kind == "busy":
                    self.timeline.add(target.who, "act", "declines the call")
                    self.world.set_status(target, "busy")
                    continue
                winner = target
                break
        except (Hangup, Redirected):
            for child in children:
                if not child.ended:
                    self.world.set_status(child, "canceled")
            raise
        for child in children:
            if child is not winner and not child.ended:
                self.world.set_status(child, "canceled")
        self._bridge(winner, time_limit)

    def _bridge(self, child: Call, time_limit: float) -> None:
        call = self.call
        self.timeline.add(child.who, "act", "answers")
        self.world.set_status(child, "in-progress")
        if child.url:
            whisper = Leg(self.world, child)
            doc = whisper.fetch(child.url, child.method, purpose="whisper", critical=False)
            for verb in doc.verbs if doc else []:
                if verb.name in ("Say", "Play", "Pause"):
                    whisper.media(verb, doc)
        with self.lock:
            call.bridged_with, child.bridged_with = child.sid, call.sid
        self.world.set_activity(call, "connected", others=[child.who])
        self.world.set_activity(child, "connected", others=[call.who])
        self.timeline.add(call.who, "state", f"is talking with {child.who}")
        child.party.connected(self.world, child)
        self._dial_result = {"DialCallStatus": "completed", "DialCallSid": child.sid, "DialBridged": "true"}
        try:
            ended = self.wait(time_limit, lambda: child.hangup is not None or child.redirect is not None)
        except (Hangup, Redirected):
            self._finish_child(child)
            raise
        if not ended:
            self.timeline.add("twilio", "note", f"<Dial> time limit of {time_limit:g} s reached")
        with self.lock:
            redirect, child.redirect = child.redirect, None
        if redirect is not None:
            self.timeline.add(child.who, "note", "leaves the bridge for new TwiML")
            with self.lock:
                call.bridged_with = child.bridged_with = None
            self.world.spawn(lambda: Leg(self.world, child).run_redirected(redirect), name=f"leg-{child.sid[:8]}")
        else:
            self._finish_child(child)
        self._dial_result["DialCallDuration"] = str(child.duration(self.clock.now()))

    def _finish_child(self, child: Call) -> None:
        with self.lock:
            self.call.bridged_with = child.bridged_with = None
        self.world.set_status(child, "completed")
        self._dial_result["DialCallDuration"] = str(child.duration(self.clock.now()))

    # --- conferences -------------------------------------------------------------------------
    def dial_conference(self, noun: Verb, doc: Document) -> None:
        call = self.call
        name = noun.text.strip()
        conference = self.world.conference_for(name, create=True)
        wait_url = noun.attrs.get("waitUrl")
        participant = Participant(
            call_sid=call.sid,
            conference_sid=conference.sid,
            created_at=self.clock.now(),
            label=noun.attr("participantLabel"),
            muted=as_bool(noun.attr("muted"), False),
            start_on_enter=as_bool(noun.attr("startConferenceOnEnter"), True),
            end_on_exit=as_bool(noun.attr("endConferenceOnExit"), False),
            beep=noun.attr("beep") or "true",
            wait_url=TWILIO_DEFAULT_HOLD_MUSIC if wait_url is None else self.world.absolute(doc.url, wait_url),
            wait_method=noun.attr("waitMethod") or "POST",
            coaching=as_bool(noun.attr("coach"), False),
        )
        self.world.subscribe_conference(
            conference,
            self.world.absolute(doc.url, noun.attr("statusCallback")),
            noun.attr("statusCallbackMethod") or "POST",
            event_set(noun.attr("statusCallbackEvent") or "start end"),
        )
        if noun.attr("record") in ("record-from-start", "true"):
            with self.lock:
                if not conference.record_call_sid:
                    conference.record_call_sid = call.sid
                    conference.recording_callback = self.world.absolute(doc.url, noun.attr("recordingStatusCallback"))
                    conference.recording_callback_method = noun.attr("recordingStatusCallbackMethod") or "POST"
        self.world.join_conference(conference, participant)
        try:
            self.in_conference(conference, participant)
        finally:
            self.world.leave_conference(conference, participant, reason=self._leave_reason(participant))
        self._dial_result = {}

    def _leave_reason(self, participant: Participant) -> str:
        call = self.call
        if participant.kicked == "api":
            return "participant_kicked_via_api"
        if participant.kicked == "conference-ended":
            return "conference_ended"
        if call.redirect is not None:
            return "participant_updated_via_api"
        if call.hangup == "party":
            return "participant_hung_up"
        if call.hangup in ("api", "kicked"):
            return "participant_updated_via_api"
        return "participant_left"

    def in_conference(self, conference: Conference, participant: Participant) -> None:
        """Be in the room until removed or the room ends: waiting music, hold music, or talking."""
        call = self.call

        def gone() -> bool:
            return participant.left or participant.kicked is not None or conference.status == "completed"

        described = None
        while True:
            with self.lock:
                if gone():
                    return
                version = conference.version
                announcement, participant.announce_url = participant.announce_url, ""
                if announcement:
                    state = "announcement"
                elif participant.hold:
                    state = "held"
                elif not conference.started:
                    state = "waiting"
                else:
                    state = "connected"
                others = [
                    self.world.calls[p.call_sid].who + (" (on hold)" if p.hold else "")
                    for p in conference.present()
                    if p.call_sid != call.sid
                ]
            if state == "announcement":
                described = None
                self.announcement(announcement, participant.announce_method, until=gone)
            elif state == "held":
                self.world.set_activity(call, "held", url=participant.hold_url)
                described = None
                self.conference_audio(
                    participant.hold_url or TWILIO_DEFAULT_HOLD_MUSIC,
                    participant.hold_method,
                    until=lambda: gone() or not participant.hold,
                    purpose="hold",
                )
            elif state == "waiting":
                self.world.set_activity(call, "waiting", conference=conference.friendly_name)
                described = None
                self.conference_audio(
                    participant.wait_url,
                    participant.wait_method,
                    until=lambda: gone() or participant.hold or conference.started,
                    purpose="wait",
                    extra={"ConferenceSid": conference.sid, "FriendlyName": conference.friendly_name},
                )
            else:
                if others != described:
                    described = others
                    self.world.set_activity(call, "connected", others=others)
                    if others:
                        self.timeline.add(call.who, "state", f"is talking with {', '.join(others)}")
                    else:
                        self.timeline.add(call.who, "state", "is alone in the conference (silence)")
                self.wait(None, lambda version=version: gone() or participant.hold or conference.version != version)

    def announcement(self, url: str, method: str, *, until: Callable[[], bool]) -> None:
        """A participant announcement: its TwiML's Say/Play/Pause played once to this participant alone."""
        doc = self.fetch(url, method or "POST", purpose="announcement", critical=False)
        if doc is None:
            return
        for verb in doc.verbs:
            if verb.name not in twiml.WAIT_VERBS or verb.name == "Redirect":
                self.timeline.add("twilio", "error", f"Twilio error 13238: <{verb.name}> in announcement TwiML")
                continue
            if self.media(verb, doc, until):
                return

    def conference_audio(
        self,
        url: str,
        method: str,
        *,
        until: Callable[[], bool],
        purpose: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Wait or hold music: an audio file loops; TwiML is played and fetched again each time it ends."""
        if not url:
            self.hear(f"silence ({purpose})")
            self.wait(None, until)
            return
        if not self.world.is_local(url):
            self.hear(f"{purpose} music {url}")
            self.wait(None, until)
            return
        current, current_method = url, method or "POST"
        while not until():
            started = self.clock.now()
            doc = self.fetch(current, current_method, purpose=purpose, extra=extra, critical=False)
            if doc is None:
                self.hear(f"silence (the {purpose} URL failed)")
                self.wait(None, until)
                return
            redirected = False
            for verb in doc.verbs:
                if verb.name == "Redirect":
                    current = self.world.absolute(doc.url, verb.text.strip())
                    current_method = verb.attr("method") or "POST"
                    redirected = True
                    break
                if verb.name not in twiml.WAIT_VERBS:
                    self.timeline.add(
                        "twilio", "error", f"Twilio error 13238: <{verb.name}> is not allowed in {purpose} TwiML"
                    )
                    continue
                if self.media(verb, doc, until):
                    return
            if not redirected and self.clock.now() - started <= 0:
                # Nothing in the document takes time: Twilio would play silence rather than spin.
                self.wait(None, until)
                return

    # --- ringing a person --------------------------------------------------------------------
    def ring_out(self, participant: Participant | None = None) -> str:
        """Ring an outgoing leg (Calls or Participants API): 'answered', 'no-answer', 'busy' or 'canceled'."""
        call = self.call
        self.world.set_status(call, "initiated")
        plan = call.party.ring(call)
        self.world.set_status(call, "ringing")
        if participant is not None:
            with self.lock:
                participant.status = "ringing"
        self.world.set_activity(call, "ringing")
        self.timeline.add(call.who, "state", f"{call.to} rings")
        timeout = float(call.timeout)
        try:
            if plan.busy_after is not None and plan.busy_after < timeout:
                self.wait(plan.busy_after)
                self.timeline.add(call.who, "act", "declines the call")
                return "busy"
            if plan.answer_after is not None and plan.answer_after < timeout:
                self.wait(plan.answer_after)
                self.timeline.add(call.who, "act", "answers")
                self.answer()
                return "answered"
            self.wait(timeout)
            self.timeline.add(call.who, "note", f"does not answer within {timeout:g} s")
            return "no-answer"
        except Hangup as hangup:
            self.timeline.add(call.who, "note", f"stops ringing ({hangup.reason})")
            return "canceled"
