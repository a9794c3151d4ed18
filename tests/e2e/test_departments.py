"""Departments end to end (issue 16): a scenario per strategy, levels widening, overflow and a department with
nobody logged in, played on the emulator against the app under gunicorn.

Levels and overflow open with the caller's wait by the app's wall clock, while the emulator plays in virtual time;
their scenarios use a `pause` step (real seconds during which the emulator's clock stands still), so the app's
clock moves on while the caller is still waiting, and the next round of hold music routes again."""

from datetime import UTC, datetime

import pytest

from tests.e2e.test_calls import assert_agents, assert_clean, heard, rung

pytestmark = pytest.mark.e2e


def test_a_linear_department_rings_its_first_listed_member(e2e_stack):
    result = e2e_stack.play("department_linear.yaml")

    assert_clean(result)
    assert rung(result) == ["bob"]
    assert result.call["agent"] == result.agents["bob"]["id"]


def test_a_round_robin_department_rings_the_member_after_the_last_one(e2e_stack):
    first = e2e_stack.play("department_round_robin.yaml")
    second = e2e_stack.play("department_round_robin.yaml")

    assert_clean(first)
    assert_clean(second)
    assert {rung(first)[0], rung(second)[0]} == {"alice", "bob"}


def test_a_department_with_nobody_logged_in_plays_its_message(e2e_stack):
    result = e2e_stack.play("department_nobody_logged_in.yaml")

    assert_clean(result)
    assert heard(result, "Nobody from sales is in right now.")
    assert rung(result) == []
    assert result.call["stage"] == "message"


def rung_at_twilio(result) -> list[str]:
    """Whom the app asked Twilio to ring (the emulator's REST log of Participants.create), in order."""
    return [
        entry.text.split()[1].removeprefix("client:")
        for entry in result.entries
        if entry.kind == "api" and entry.text.startswith("Participants.create client:")
    ]


def chosen(result) -> str:
    agent_ids = {row["id"]: name for name, row in result.agents.items()}
    return agent_ids[result.call["agent"]]


def today_per_member(e2e_stack, usernames: list[str]) -> dict[str, tuple[int, int]]:
    """Each agent's (calls answered, talk seconds) since midnight UTC, read through the REST API."""
    runner, agents = e2e_stack.runner, e2e_stack.runner.agents_by_username()
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    totals = {}
    for name in usernames:
        rows = runner.app.get_all(
            "/voiceconfig/calls", token=runner.admin_token(), params={"agent": agents[name]["id"]}
        )
        answered = [row for row in rows if row["answeredAt"] and datetime.fromisoformat(row["answeredAt"]) >= midnight]
        totals[name] = (len(answered), sum(row["talkSeconds"] or 0 for row in answered))
    return totals


def test_a_longest_idle_department_rings_the_member_idle_longest(e2e_stack):
    expected = e2e_stack.first_in_line(["alice", "bob"])
    result = e2e_stack.play("department_longest_idle.yaml")

    assert_clean(result)
    assert rung(result) == [expected] and chosen(result) == expected


@pytest.mark.parametrize(
    "scenario, measure", [("department_fewest_calls.yaml", 0), ("department_least_talk_time.yaml", 1)]
)
def test_fewest_calls_and_least_talk_time_ring_the_member_with_the_least_today(e2e_stack, scenario, measure):
    today = today_per_member(e2e_stack, ["alice", "bob"])
    idle_first = e2e_stack.first_in_line(["alice", "bob"])
    expected = min(["alice", "bob"], key=lambda name: (today[name][measure], name != idle_first))

    result = e2e_stack.play(scenario)

    assert_clean(result)
    assert rung(result) == [expected], today
    assert chosen(result) == expected


def test_a_random_department_rings_one_of_its_members(e2e_stack):
    result = e2e_stack.play("department_random.yaml")

    assert_clean(result)
    assert len(rung(result)) == 1 and rung(result)[0] in {"alice", "bob"}
    assert chosen(result) == rung(result)[0]


def test_a_ring_all_department_rings_every_member_at_once_and_the_first_to_answer_gets_the_caller(e2e_stack):
    result = e2e_stack.play("department_ring_all.yaml")

    assert_clean(result)
    assert sorted(rung_at_twilio(result)) == ["alice", "bob"]  # both rung before anyone answered
    assert chosen(result) == "bob"  # answers after 2 s; alice would after 6
    assert any(e.text == "Calls.update alice's call: Status=completed" for e in result.entries)
    assert result.call["status"] == "completed" and result.call["talkSeconds"] >= 9
    assert_agents(result, alice="available", bob="wrap_up")


def test_two_ring_all_members_answering_at_the_same_instant_one_gets_the_caller(e2e_stack):
    result = e2e_stack.play("department_ring_all_same_instant.yaml")

    assert_clean(result)
    assert sorted(rung_at_twilio(result)) == ["alice", "bob"]
    winner = chosen(result)
    loser = "alice" if winner == "bob" else "bob"
    # The loser's leg had joined the conference; hanging it up did not end the caller's call.
    assert any(e.text == f"Calls.update {loser}'s call: Status=completed" for e in result.entries)
    assert result.call["status"] == "completed" and result.call["talkSeconds"] >= 9
    assert_agents(result, **{loser: "available", winner: "wrap_up"})


@pytest.mark.parametrize("scenario", ["department_levels.yaml", "department_overflow.yaml"])
def test_levels_and_overflow_open_only_once_the_caller_has_waited(e2e_stack, scenario):
    result = e2e_stack.play(scenario)

    assert_clean(result)
    assert rung(result) == ["bob"]
    assert chosen(result) == "bob"
    texts = [entry.text for entry in result.entries]
    paused = next(i for i, text in enumerate(texts) if text.startswith("pauses 2 s of real time"))
    ringing_bob = next(i for i, text in enumerate(texts) if text.startswith("Participants.create client:bob"))
    assert paused < ringing_bob  # bob was not rung before the app's clock had moved on
