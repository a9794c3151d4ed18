"""`manage.py simulate_call` runs the app it starts with provisioning off: it talks to the emulator, not Twilio.

A scenario whose line does not exist yet creates it over REST. With provisioning on (the default once Twilio
credentials are set, and simulate_call always sets the emulator's), saving the line asked the account for the
number and was refused with 400, unless the shell had TWILIO_PROVISIONING=0.
"""

import pytest

from tests.test_demo_loop import manage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_scenario_that_creates_a_new_line_runs_without_provisioning_set(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'simulate.sqlite3'}"
    for args in (("migrate", "--noinput"), ("load_demo",)):
        result = manage(*args, database_url=database_url)
        assert result.returncode == 0, result.stderr[-3000:]

    # answered.yaml's line (+14155550111) is not one of the demo's lines: the scenario POSTs it.
    result = manage("simulate_call", "scenarios/answered.yaml", database_url=database_url)

    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
    assert "call record: status=completed agent=alice" in result.stdout
    assert "answered 400" not in result.stdout + result.stderr
