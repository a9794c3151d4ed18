"""The emulator's TwiML interpreter against a small fake app: every request is checked as the app would check it
(Twilio's parameter names, a valid X-Twilio-Signature), and the caller hears what Twilio would play."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from twilio.request_validator import RequestValidator

from twilio_emulator.appserver import free_port
from twilio_emulator.factory import FALLBACK_PATH as FALLBACK
from twilio_emulator.factory import STATUS_CALLBACK_PATH as STATUS
from twilio_emulator.factory import VOICE_PATH as VOICE
from twilio_emulator.factory import Credentials, build
from twilio_emulator.people import Directory, Person, Ring, RingPlan, Step

CREDENTIALS = Credentials()
AUTH = (CREDENTIALS.account_sid, CREDENTIALS.auth_token)
LINE = "+14155550100"
CALLER = "+15005550006"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    params: dict[str, str]
    signed: bool


Route = str | Callable[[dict[str, str]], str | tuple[int, str, str]]


class FakeApp:
    """Answers TwiML by path and records every request, with whether its Twilio signature is valid."""

    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        self.seen: list[Seen] = []
        validator = RequestValidator(CREDENTIALS.auth_token)
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_one(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = dict(parse_qsl(body, keep_blank_values=True)) if method == "POST" else {}
                url = f"{app.url}{self.path}"
                signed = validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                app.seen.append(Seen(method, parts.path, query, params or query, signed))
                route = app.routes.get(parts.path, "<Response/>")
                answer = route({**query, **params}) if callable(route) else route
                status, text, content_type = answer if isinstance(answer, tuple) else (200, answer, "text/xml")
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                self.handle_one("POST")

            def do_GET(self):  # noqa: N802
                self.handle_one("GET")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port(8500, 8549)), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=lambda: self.httpd.serve_forever(poll_interval=0.05), daemon=True).start()

    def to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stack():
    """A fake app plus an emulator whose numbers ring it; `stack(routes, people)` configures both."""
    made: list = []

    def make(routes: dict[str, Route], people: dict | None = None, play_seconds: float = 10.0):
        app = FakeApp(routes)
        server = build(
            app_url=app.url,
            credentials=CREDENTIALS,
            port=free_port(8500, 8549, exclude=(app.httpd.server_address[1],)),
            directory=Directory(people or {}, agent_answer_after=None),
            play_seconds=play_seconds,
        ).start()
        made.append((app, server))
        return app, server

    yield make
    for app, server in made:
        server.stop()
        app.stop()


def call_in(server, *steps: dict, name: str = "caller", max_seconds: float = 900):
    """A caller rings the line and follows `steps`; returns the call once everything has finished."""
    world = server.world
    caller = Person(name, steps=[Step.parse(step) for step in steps], patience_alone=30)
    with world.clock.running():
        call = world.place_inbound_call(from_=CALLER, to=LINE, party=caller)
        assert world.clock.wait(world.idle, max_seconds), world.timeline.render()
    return call


def heard(server, who: str = "caller") -> list[str]:
    return [e.text.removeprefix("hears ") for e in server.world.timeline.entries if e.who == who and e.kind == "hear"]


MENU = (
    '<Response><Gather input="dtmf speech" numDigits="1" action="/gather" timeout="5">'
    "<Say>Press 1 for sales.</Say></Gather><Say>We did not get that.</Say></Response>"
)


def test_a_key_press_is_posted_to_the_action_url_with_twilios_parameters_and_signature(stack):
    app, server = stack({VOICE: MENU, "/gather": "<Response><Say>Sales it is.</Say><Hangup/></Response>"})

    call = call_in(server, {"press": "1"})

    [voice] = app.to(VOICE)
    assert voice.params["CallStatus"] == "ringing"
    assert voice.params["Direction"] == "inbound"
    assert (voice.params["From"], voice.params["To"]) == (CALLER, LINE)
    assert (voice.params["Caller"], voice.params["Called"]) == (CALLER, LINE)
    assert voice.params["AccountSid"] == CREDENTIALS.account_sid
    assert voice.params["ApiVersion"] == "2010-04-01"
    assert voice.params["CallSid"] == call.sid
    [gather] = app.to("/gather")
    assert gather.params["Digits"] == "1"
    assert gather.params["CallStatus"] == "in-progress"
    assert all(seen.signed for seen in app.seen), "every request carries a valid X-Twilio-Signature"
    assert heard(server) == ['"Press 1 for sales."', '"Sales it is."']
    assert call.status == "completed"


def test_the_number_status_callback_reports_the_end_of_the_call_once(stack):
    app, server = stack({VOICE: "<Response><Say>Hello there.</Say></Response>"})

    call_in(server)

    [status] = app.to(STATUS)
    assert status.params["CallStatus"] == "completed"
    assert status.params["SequenceNumber"] == "0"
    assert status.params["CallbackSource"] == "call-progress-events"
    assert status.params["CallDuration"] == "1"
    assert status.params["Timestamp"].endswith("+0000")


def test_silence_at_a_menu_moves_on_to_the_next_verb_without_calling_the_action(stack):
    app, server = stack({VOICE: MENU})

    call_in(server)

    assert app.to("/gather") == []
    assert heard(server)[-1] == '"We did not get that."'


def test_spoken_words_arrive_as_twilio_transcribes_them(stack):
    app, server = stack({VOICE: MENU})

    call_in(server, {"say": "sales please"})

    [gather] = app.to("/gather")
    assert gather.params["SpeechResult"] == "Sales please."
    assert float(gather.params["Confidence"]) > 0.5
    assert "Digits" not in gather.params


def test_keys_pressed_at_a_speech_only_menu_are_not_heard(stack):
    app, server = stack(
        {VOICE: '<Response><Gather input="speech" action="/gather"><Say>Say something.</Say></Gather></Response>'}
    )

    call_in(server, {"press": "1"})

    assert app.to("/gather") == []
    assert any("listens for speech only" in e.text for e in server.world.timeline.entries)


def test_digits_without_a_finish_key_are_submitted_after_the_timeout(stack):
    app, server = stack(
        {
            VOICE: '<Response><Gather action="/gather" timeout="3" finishOnKey="#"><Say>Account?</Say></Gather>'
            "</Response>"
        }
    )

    call_in(server, {"press": "1234#"})

    [gather] = app.to("/gather")
    assert (gather.params["Digits"], gather.params["FinishedOnKey"]) == ("1234", "#")


def test_a_voicemail_reaches_the_action_and_the_recording_status_callback(stack):
    app, server = stack(
        {
            VOICE: '<Response><Say>Leave a message.</Say><Record action="/recorded" maxLength="30" '
            'recordingStatusCallback="/recording-status"/><Say>Nothing recorded.</Say></Response>'
        }
    )

    call_in(server, {"message": {"seconds": 7, "then": "hangup"}})

    [action] = app.to("/recorded")
    assert action.params["Digits"] == "hangup"
    assert action.params["RecordingDuration"] == "7"
    assert action.params["CallStatus"] == "completed"
    assert action.params["RecordingSid"].startswith("RE")
    [status] = app.to("/recording-status")
    assert status.params["RecordingStatus"] == "completed"
    assert status.params["RecordingSid"] == action.params["RecordingSid"]
    audio = requests.get(action.params["RecordingUrl"] + ".wav", timeout=5)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert "a beep" in heard(server)


def test_silence_at_the_beep_records_nothing_and_moves_on(stack):
    app, server = stack({VOICE: '<Response><Record action="/recorded" timeout="4"/><Say>Bye.</Say></Response>'})

    call_in(server)

    assert app.to("/recorded") == []
    assert heard(server)[-1] == '"Bye."'


def test_a_waiting_caller_hears_the_wait_url_fetched_again_until_an_agent_joins(stack):
    conference = (
        '<Response><Dial><Conference startConferenceOnEnter="false" endConferenceOnExit="true" waitUrl="/wait" '
        'statusCallback="/conference" statusCallbackEvent="start end join leave">room</Conference></Dial>'
        "<Say>Goodbye.</Say></Response>"
    )
    app, server = stack({VOICE: conference, "/wait": "<Response><Play>http://example.com/music.mp3</Play></Response>"})

    call_in(server, {"hangup": True, "on": "waiting", "after": 35})

    waits = app.to("/wait")
    assert len(waits) == 4, "fetched on joining, then again after each 10 s of music"
    events = [seen.params["StatusCallbackEvent"] for seen in app.to("/conference")]
    assert events == ["participant-join", "participant-leave", "conference-end"]
    sequence = [int(seen.params["SequenceNumber"]) for seen in app.to("/conference")]
    assert sequence == sorted(sequence)
    assert all(seen.params["FriendlyName"] == "room" for seen in app.to("/conference"))
    assert heard(server)[0] == "audio http://example.com/music.mp3"


def test_an_agent_added_through_the_api_talks_is_held_with_hold_music_and_leaves(stack):
    conference = (
        '<Response><Dial><Conference startConferenceOnEnter="false" endConferenceOnExit="true" waitUrl="" '
        'statusCallback="/conference" statusCallbackEvent="start end join leave hold">room</Conference></Dial>'
        "</Response>"
    )
    alice = Person("alice", rings=[Ring(RingPlan(answer_after=4))])
    app, server = stack(
        {VOICE: conference, "/hold": '<Response><Say>Please hold.</Say><Pause length="5"/></Response>'},
        people={"client:alice": alice},
    )
    world = server.world
    caller = Person("caller", steps=[], patience_alone=30)
    base = f"{server.url}/2010-04-01/Accounts/{CREDENTIALS.account_sid}/Conferences"
    with world.clock.running():
        call = world.place_inbound_call(from_=CALLER, to=LINE, party=caller)
        world.clock.sleep(2)
        created = requests.post(
            f"{base}/room/Participants.json",
            auth=AUTH,
            data={
                "From": LINE,
                "To": "client:alice",
                "StatusCallback": f"{app.url}/leg",
                "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
                "EndConferenceOnExit": "true",
            },
            timeout=5,
        ).json()
        conference_sid, leg = created["conference_sid"], created["call_sid"]
        world.clock.sleep(10)
        hold = requests.post(
            f"{base}/{conference_sid}/Participants/{call.sid}.json",
            auth=AUTH,
            data={"Hold": "true", "HoldUrl": f"{app.url}/hold", "HoldMethod": "GET"},
            timeout=5,
        )
        assert hold.json()["hold"] is True
        world.clock.sleep(11)
        requests.post(f"{base}/{conference_sid}/Participants/{call.sid}.json", auth=AUTH, data={"Hold": "false"})
        world.clock.sleep(5)
        removed = requests.delete(f"{base}/{conference_sid}/Participants/{leg}.json", auth=AUTH, timeout=5)
        assert removed.status_code == 204
        assert world.clock.wait(world.idle, 300)

    assert [seen.params["CallStatus"] for seen in app.to("/leg")] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [seen.params["SequenceNumber"] for seen in app.to("/leg")] == ["0", "1", "2", "3"]
    holds = app.to("/hold")
    assert holds and all(seen.method == "GET" and seen.signed for seen in holds)
    assert len(holds) == 2, "the hold TwiML (6 s) is fetched again while the caller stays on hold (11 s)"
    events = [seen.params["StatusCallbackEvent"] for seen in app.to("/conference")]
    assert events[:3] == ["participant-join", "participant-join", "conference-start"]
    assert "participant-hold" in events and "participant-unhold" in events
    assert events[-1] == "conference-end"
    [end] = [seen for seen in app.to("/conference") if seen.params["StatusCallbackEvent"] == "conference-end"]
    assert end.params["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-kicked"
    assert '"Please hold."' in heard(server)
    assert call.status == "completed"


def test_a_dialled_number_that_never_answers_reports_no_answer_to_the_action(stack):
    app, server = stack(
        {VOICE: '<Response><Dial action="/dialed" timeout="8"><Number>+15551230000</Number></Dial></Response>'},
        people={"+15551230000": Person("shop", rings=[Ring(RingPlan())])},
    )

    call_in(server)

    [dialed] = app.to("/dialed")
    assert dialed.params["DialCallStatus"] == "no-answer"


def test_a_dialled_number_that_answers_is_bridged_and_reported_completed(stack):
    shop = Person("shop", rings=[Ring(RingPlan(answer_after=2), [Step.parse({"hangup": True, "after": 20})])])
    app, server = stack(
        {
            VOICE: '<Response><Dial action="/dialed"><Number statusCallback="/child" '
            'statusCallbackEvent="initiated ringing answered completed">+15551230000</Number></Dial></Response>',
            "/dialed": "<Response><Say>Thanks.</Say></Response>",
        },
        people={"+15551230000": shop},
    )

    call = call_in(server)

    [dialed] = app.to("/dialed")
    assert dialed.params["DialCallStatus"] == "completed"
    assert dialed.params["DialCallDuration"] == "20"
    assert dialed.params["DialCallSid"].startswith("CA")
    child = [seen.params for seen in app.to("/child")]
    assert [p["CallStatus"] for p in child] == ["initiated", "ringing", "in-progress", "completed"]
    assert all(p["ParentCallSid"] == call.sid and p["Direction"] == "outbound-dial" for p in child)
    assert heard(server)[-1] == '"Thanks."'


def test_reject_busy_leaves_the_call_busy_and_unanswered(stack):
    app, server = stack({VOICE: '<Response><Reject reason="busy"/></Response>'})

    call = call_in(server)

    assert call.status == "busy"
    assert call.answered_at is None
    [status] = app.to(STATUS)
    assert status.params["CallStatus"] == "busy"


def test_an_app_error_sends_twilio_to_the_fallback_url(stack):
    app, server = stack(
        {
            VOICE: lambda params: (500, "boom", "text/plain"),
            FALLBACK: "<Response><Say>Sorry about that.</Say></Response>",
        }
    )

    call_in(server)

    [fallback] = app.to(FALLBACK)
    assert fallback.params["ErrorCode"] == "11200"
    assert fallback.params["ErrorUrl"].endswith("/voice")
    assert heard(server) == ['"Sorry about that."']
    assert any(e.kind == "error" and "HTTP 500" in e.text for e in server.world.timeline.entries)


def test_twiml_twilio_would_refuse_is_an_application_error(stack):
    app, server = stack(
        {
            VOICE: "<Response><Gather><Dial>+15551230000</Dial></Gather></Response>",
            FALLBACK: lambda params: (500, "also broken", "text/plain"),
        }
    )

    call_in(server)

    assert heard(server) == ['"We are sorry, an application error has occurred. Goodbye."']
    assert any("12200" in e.text for e in server.world.timeline.entries)


def test_a_rest_redirect_replaces_what_the_caller_is_hearing(stack):
    app, server = stack(
        {
            VOICE: '<Response><Play loop="0">http://example.com/music.mp3</Play></Response>',
            "/elsewhere": "<Response><Say>You were moved.</Say></Response>",
        }
    )
    world = server.world
    with world.clock.running():
        call = world.place_inbound_call(from_=CALLER, to=LINE, party=Person("caller", steps=[]))
        world.clock.sleep(30)
        requests.post(
            f"{server.url}/2010-04-01/Accounts/{CREDENTIALS.account_sid}/Calls/{call.sid}.json",
            auth=AUTH,
            data={"Url": f"{app.url}/elsewhere", "Method": "POST"},
            timeout=5,
        )
        assert world.clock.wait(world.idle, 300)

    assert heard(server) == ["audio http://example.com/music.mp3 (looping)", '"You were moved."']
    assert app.to("/elsewhere")[0].params["CallStatus"] == "in-progress"
    assert call.status == "completed"
