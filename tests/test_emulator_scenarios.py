"""Scenario files: every one in scenarios/ reads, and mistakes are explained rather than half-played."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from twilio_emulator import scenario as scenarios
from twilio_emulator.people import RingPlan, Step

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_every_scenario_file_reads(path):
    scenario = scenarios.load(path)
    assert scenario.name and scenario.line.startswith("+")


def test_a_bare_on_key_means_the_moment_even_though_yaml_reads_it_as_true():
    scenario = scenarios.parse({"caller": {"steps": [{True: "connected", "hangup": True, "after": 5}]}})
    assert scenario.caller_steps == [Step(action="hangup", value=True, on="connected", after=5.0)]


def test_steps_default_to_the_moment_their_action_needs():
    assert Step.parse({"press": "2"}).on == "gather"
    assert Step.parse({"say": "sales"}).on == "gather"
    assert Step.parse({"message": 8}).on == "record"
    assert Step.parse({"hold": True, "after": 3}).on == "now"
    assert Step.parse("hangup") == Step(action="hangup", value=True)


def test_answer_plans_read_as_written():
    assert RingPlan.parse({"after": 4}) == RingPlan(answer_after=4.0)
    assert RingPlan.parse("never") == RingPlan()
    assert RingPlan.parse("busy") == RingPlan(busy_after=1.0)
    assert RingPlan.parse(2) == RingPlan(answer_after=2.0)


def test_dates_can_be_written_relative_to_today():
    scenario = scenarios.parse({"setup": {"config": {"holidays": [{"date": "${today}"}]}}, "caller": {}})
    assert scenario.setup["config"]["holidays"][0]["date"][:2] == "20"


@pytest.mark.parametrize(
    "step, message",
    [
        ({"press": "1", "say": "one"}, "exactly one action"),
        ({"dance": True}, "exactly one action"),
        ({"press": "1", "on": "lunch"}, "unknown moment"),
        ({"press": "1", "loudly": True}, "unknown step keys"),
    ],
)
def test_a_bad_step_names_what_is_wrong(step, message):
    with pytest.raises(scenarios.ScenarioError, match=message):
        scenarios.parse({"caller": {"steps": [step]}}, path="bad.yaml")


def test_simulate_call_refuses_a_missing_scenario_file():
    with pytest.raises(CommandError, match="No such file"):
        call_command("simulate_call", "scenarios/does-not-exist.yaml")


def test_twilio_emulator_prints_the_environment_that_points_the_app_at_it(capsys, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    call_command("twilio_emulator", "--print-env", "--port", "8549")
    printed = capsys.readouterr().out
    assert "export TWILIO_API_BASE_URL=http://127.0.0.1:8549" in printed
    assert "export TWILIO_ACCOUNT_SID=AC" in printed
