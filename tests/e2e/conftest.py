"""The end-to-end stack: the real app under gunicorn on its own database, and the Twilio emulator in this process.

Once per test session: a fresh database (`<DATABASE_URL's name>_e2e` on PostgreSQL, a temporary file on SQLite),
migrated and loaded with the demo data; gunicorn pointed at the emulator by TWILIO_API_BASE_URL and the emulator's
credentials (the only change the app sees); the emulator in virtual time, so a five-minute call plays in about a
second while every webhook and REST request is real HTTP. Tests play scenarios/ files and read the outcome back
through the app's own REST API. Ports come from E2E_PORTS (default 8500-8549).
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from twilio_emulator import scenario as scenarios
from twilio_emulator.appserver import AppServer, free_port, manage_output, run_manage
from twilio_emulator.factory import Credentials, build
from twilio_emulator.rest import EmulatorServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _ports() -> tuple[int, int]:
    first, _, last = os.environ.get("E2E_PORTS", "8500-8549").partition("-")
    return int(first), int(last or first)


class _Database:
    """A database of its own for the app under test, created empty and dropped afterwards."""

    def __init__(self, tmp_dir: Path):
        source = os.environ.get("DATABASE_URL", "")
        self.postgres = source.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            parts = urlsplit(source)
            self.name = f"{parts.path.lstrip('/') or 'voice'}_e2e"
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
            self.admin = parts
        else:
            self.url = f"sqlite:///{tmp_dir / 'e2e.sqlite3'}"

    def _admin_sql(self, statement: str) -> None:
        import psycopg2

        parts = self.admin
        connection = psycopg2.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create(self) -> None:
        if self.postgres:
            self._admin_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._admin_sql(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.postgres:
            self._admin_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class Stack:
    runner: scenarios.Runner
    emulator: EmulatorServer
    app: AppServer

    def load(self, name: str) -> scenarios.Scenario:
        return scenarios.load(SCENARIOS / name)

    def play(self, scenario: scenarios.Scenario | str) -> scenarios.Result:
        if isinstance(scenario, str):
            scenario = self.load(scenario)
        result = self.runner.run(scenario)
        # Printed, so a failing test shows the whole call.
        print("\n".join(entry.render() for entry in result.entries))
        print(result.summary())
        return result

    def first_in_line(self, usernames: list[str]) -> str:
        """Which of these agents routing offers a call first: the longest idle (never idle first), then by id."""
        agents = self.runner.agents_by_username()
        return min(
            usernames,
            key=lambda name: (
                agents[name]["lastCallEndedAt"] is not None,
                agents[name]["lastCallEndedAt"] or "",
                agents[name]["id"],
            ),
        )

    @staticmethod
    def swap_agents(scenario: scenarios.Scenario, one: str, other: str) -> scenarios.Scenario:
        """The same scenario with the two agents' behaviour exchanged."""
        agents = dict(scenario.agents)
        agents[one], agents[other] = replace(agents[other], name=one), replace(agents[one], name=other)
        return replace(scenario, agents=agents)


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory) -> Stack:
    tmp_dir = tmp_path_factory.mktemp("e2e")
    database = _Database(tmp_dir)
    database.create()
    env = {"DATABASE_URL": database.url}
    run_manage("migrate", "--noinput", env=env)
    run_manage("load_demo", env=env)
    first, last = _ports()
    app_port = free_port(first, last)
    emulator_port = free_port(first, last, exclude=(app_port,))
    credentials = Credentials()
    emulator = build(app_url=f"http://127.0.0.1:{app_port}", credentials=credentials, port=emulator_port).start()
    app = AppServer(
        port=app_port,
        env={**env, **credentials.env(emulator.url)},
        log_path=tmp_dir / "gunicorn.log",
        workers=2 if database.postgres else 1,
    )
    try:
        app.start()
        # What a scheduler (cron) runs beside the app: its commands on the app's database, against the emulator,
        # with the app's public URL for the webhooks they give Twilio.
        command_env = {**env, **credentials.env(emulator.url), "TWILIO_WEBHOOK_BASE_URL": app.url}
        runner = scenarios.Runner(
            emulator.world, app_url=app.url, run_command=lambda name: manage_output(name, env=command_env)
        )
        yield Stack(runner=runner, emulator=emulator, app=app)
    finally:
        app.stop()
        emulator.stop()
        database.drop()
