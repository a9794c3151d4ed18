"""`manage.py simulate_call SCENARIO...`: play whole calls against the app and print what happened."""

import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from twilio_emulator import scenario as scenarios
from twilio_emulator.appserver import AppServer, free_port, manage_output
from twilio_emulator.factory import Credentials, build


class Command(BaseCommand):
    help = (
        "Play scenario files (YAML or JSON, see scenarios/) on a local Twilio emulator in virtual time and print "
        "each call's timeline: what every party heard, each webhook and its answer, each state change; then the "
        "app's call record, its call log and every agent's state. Without --app-url the app is started under "
        "gunicorn on a free port, pointed at the emulator, on the configured database."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenarios", nargs="+", help="scenario files")
        parser.add_argument(
            "--app-url",
            default="",
            help="use an app already running there (it must have TWILIO_API_BASE_URL pointing at --port)",
        )
        parser.add_argument("--port", type=int, default=0, help="the emulator's port (default: any free one)")
        parser.add_argument("--admin", default="admin:voice-admin-demo", help="staff user:password for set-up")
        parser.add_argument("--verbose", action="store_true", help="print each TwiML document in full")

    def handle(self, *args, **options):
        try:
            loaded = [scenarios.load(path) for path in options["scenarios"]]
        except (OSError, scenarios.ScenarioError) as exc:
            raise CommandError(str(exc)) from exc
        credentials = Credentials.from_settings(settings)
        app_url = options["app_url"].rstrip("/")
        app = None
        port = options["port"] or free_port()
        if not app_url:
            app_port = free_port()
            app_url = f"http://127.0.0.1:{app_port}"
        server = build(app_url=app_url, credentials=credentials, virtual=True, port=port)
        verbose = options["verbose"]
        # The app and the scheduler's commands talk to the emulator, not to Twilio: provisioning off, so a
        # scenario's new line is not checked against an account's numbers (whatever the calling shell has set).
        app_env = {**credentials.env(server.url), "TWILIO_PROVISIONING": "0"}
        server.world.timeline.listeners.append(lambda entry: self.stdout.write(entry.render(verbose=verbose)))
        server.start()
        failures = 0
        try:
            if not options["app_url"]:
                sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
                log = Path(tempfile.gettempdir()) / f"simulate_call-{app_port}.log"
                self.stdout.write(f"Starting the app on {app_url} (gunicorn, log {log}) against {server.url}")
                app = AppServer(
                    port=app_port,
                    env=app_env,
                    log_path=log,
                    # SQLite has one writer at a time: one process with threads is enough.
                    workers=1 if sqlite else 2,
                ).start()
            username, _, password = options["admin"].partition(":")
            # A scenario's scheduler (`then.scheduler`) runs the command here, on this database, as cron would.
            command_env = {**app_env, "TWILIO_WEBHOOK_BASE_URL": app_url}
            runner = scenarios.Runner(
                server.world,
                app_url=app_url,
                admin=(username, password),
                run_command=lambda name: manage_output(name, env=command_env),
            )
            for scenario in loaded:
                self.stdout.write(f"\n=== {scenario.name} ({scenario.path})")
                try:
                    result = runner.run(scenario)
                except (scenarios.ScenarioError, scenarios.AppApiError) as exc:
                    failures += 1
                    self.stderr.write(f"scenario failed: {exc}")
                    continue
                self.stdout.write("\n" + result.summary())
                failures += bool(result.errors or not result.finished)
        finally:
            if app is not None:
                app.stop()
            server.stop()
        if failures:
            raise CommandError(f"{failures} scenario(s) had errors")
