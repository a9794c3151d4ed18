"""Departments end to end (issue 16): strategy scenarios and a department with nobody logged in, played on the
emulator against the app under gunicorn.

Levels widening and overflow are not played here: they open with the caller's wait, which the app reads from the
wall clock, while the emulator plays in virtual time (a 15 s wait takes milliseconds). tests/test_department_routing.py
covers them with an aged queued_at."""

import pytest

from tests.e2e.test_calls import assert_clean, heard, rung

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
