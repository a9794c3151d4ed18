"""The documentation's shell examples run as written (issue 12 item 5), twice in a row.

Every ```sh block that follows `<!-- docs-example: run -->` in docs/*.md is run by bash against the app on a live
server with the demo data (as `make run` serves it) and the local Twilio emulator in real time (as `make run`
starts it), with BASE and EMULATOR pointing at them instead of ports 8000 and 8010. Each block must exit 0 (the
examples use `curl -f`, so any 4xx or 5xx fails them) on its first run and again on its second.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from twilio_emulator.appserver import AppServer, free_port, run_manage
from twilio_emulator.factory import Credentials, build

DOCS = Path(__file__).resolve().parent.parent / "docs"
MARKER = "<!-- docs-example: run -->"
# This suite's ports on the shared machine (the app and the emulator).
PORTS = (8590, 8599)
BLOCK = re.compile(re.escape(MARKER) + r"\s*```sh\n(.*?)```", re.DOTALL)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")]


def runnable_examples() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for number, script in enumerate(BLOCK.findall(path.read_text()), start=1):
            found.append((f"{path.name}#{number}", script))
    return found


EXAMPLES = runnable_examples()


def test_the_docs_mark_the_examples_of_the_api_and_the_console():
    names = {name.split("#")[0] for name, _ in EXAMPLES}

    assert {"api.md", "console-api.md"} <= names


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """What `make run` serves: the demo data on a SQLite file, the app in its own process (gunicorn, as
    `simulate_call` and the e2e tests start it), and the local Twilio emulator in real time in this process."""
    tmp = tmp_path_factory.mktemp("make_run")
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}"}
    run_manage("migrate", "--noinput", env=env)
    run_manage("load_demo", env=env)
    app_port = free_port(*PORTS)
    credentials = Credentials()
    emulator = build(
        app_url=f"http://127.0.0.1:{app_port}",
        credentials=credentials,
        virtual=False,
        port=free_port(*PORTS, exclude=(app_port,)),
    ).start()
    app = AppServer(port=app_port, env={**env, **credentials.env(emulator.url)}, log_path=tmp / "app.log", workers=1)
    try:
        app.start()
        yield {"BASE": app.url, "EMULATOR": emulator.url}
    finally:
        app.stop()
        emulator.stop()


@pytest.mark.parametrize(("name", "script"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_example_runs_as_written_twice(make_run, name, script):
    for run in (1, 2):
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/tmp", **make_run},
            capture_output=True,
            text=True,
            timeout=240,
        )

        assert result.returncode == 0, f"{name}, run {run}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
