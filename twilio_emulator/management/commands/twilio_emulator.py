"""`manage.py twilio_emulator`: a local Twilio for `make run`, in real time, until Ctrl-C."""

import shlex
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from twilio_emulator.factory import Credentials, build
from twilio_emulator.people import Directory
from twilio_emulator.scenario import DEMO_LINE


class Command(BaseCommand):
    help = (
        "Serve Twilio's REST API (the part the gateway uses) on a local port and play every call against the app's "
        "webhooks. Point the app at it with TWILIO_API_BASE_URL. Place a call with "
        'POST /_emulator/calls {"to": "+14155550100", "steps": [{"press": "1"}]}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8010)
        parser.add_argument("--app-url", default="http://127.0.0.1:8000", help="where the app's webhooks are")
        parser.add_argument("--speed", type=float, default=1.0, help="clock speed: 2 plays calls twice as fast")
        parser.add_argument(
            "--agent-answer-after",
            type=float,
            default=3.0,
            help="seconds before a ringing agent softphone answers (negative: never)",
        )
        parser.add_argument("--play-seconds", type=float, default=10.0, help="how long one <Play> lasts")
        parser.add_argument("--quiet", action="store_true", help="do not print the timeline")
        parser.add_argument(
            "--number",
            action="append",
            dest="numbers",
            help="a number the emulated account owns, already pointing at the app (repeatable; default: the demo "
            "line's). Calls to other numbers are refused, and a number whose URLs drift fails as at Twilio.",
        )
        parser.add_argument(
            "--print-env",
            action="store_true",
            help="print the shell exports that point the app at this emulator, then exit (make run uses it)",
        )

    def handle(self, *args, **options):
        credentials = Credentials.from_settings(settings)
        if options["print_env"]:
            url = f"http://{options['host']}:{options['port']}"
            for key, value in credentials.env(url).items():
                self.stdout.write(f"export {key}={shlex.quote(value)}")
            return
        answer_after = options["agent_answer_after"]
        server = build(
            app_url=options["app_url"],
            credentials=credentials,
            virtual=False,
            speed=options["speed"],
            host=options["host"],
            port=options["port"],
            directory=Directory(agent_answer_after=None if answer_after < 0 else answer_after),
            play_seconds=options["play_seconds"],
            account_numbers=options["numbers"] or [DEMO_LINE],
        )
        if not options["quiet"]:
            server.world.timeline.listeners.append(lambda entry: self.stdout.write(entry.render()))
        server.start()
        self.stdout.write(
            f"Twilio emulator on {server.url} (account {credentials.account_sid}), calling {options['app_url']}"
        )
        self.stdout.write(f"Point the app at it: TWILIO_API_BASE_URL={server.url}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
