"""Each ring strategy's choice, pinned on a hand-made history (issue 16). Pure functions: no database."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from voiceconfig.calls.departments import open_level
from voiceconfig.calls.strategies import Candidate, History, rank

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def member(agent_id, *, level=1, position=None, idle_minutes=None, calls=0, talk=0) -> Candidate:
    return Candidate(
        agent_id=agent_id,
        level=level,
        position=agent_id if position is None else position,
        idle_since=None if idle_minutes is None else T0 - timedelta(minutes=idle_minutes),
        calls_today=calls,
        talk_seconds_today=talk,
    )


# ann (1) is listed first, idle 5 min, 9 calls, 100 s talk; bob (2) idle 30 min, 2 calls, 900 s;
# cat (3) never had a call, 4 calls, 50 s talk (calls transferred to her, say).
HISTORY = [
    member(1, idle_minutes=5, calls=9, talk=100),
    member(2, idle_minutes=30, calls=2, talk=900),
    member(3, idle_minutes=None, calls=4, talk=50),
]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("longest-idle", [3, 2, 1]),  # never called first, then the longest since their last call
        ("fewest-calls", [2, 3, 1]),
        ("least-talk-time", [3, 1, 2]),
        ("linear", [1, 2, 3]),
        ("round-robin", [1, 2, 3]),  # no memory yet: from the top of the list
        ("ring-all", [3, 2, 1]),  # everyone is rung; the order only says who is listed first
    ],
)
def test_each_strategy_orders_the_same_members_its_own_way(strategy, expected):
    assert rank(strategy, HISTORY) == expected


def test_round_robin_continues_after_the_last_agent_rung_and_wraps_round():
    assert rank("round-robin", HISTORY, History(last_agent_position=1)) == [2, 3, 1]
    assert rank("round-robin", HISTORY, History(last_agent_position=3)) == [1, 2, 3]


def test_round_robin_skips_a_busy_member_without_losing_its_place():
    free = [HISTORY[0], HISTORY[2]]  # bob (position 2) is on a call
    assert rank("round-robin", free, History(last_agent_position=1)) == [3, 1]


def test_round_robin_over_a_hundred_calls_gives_each_of_five_members_twenty():
    members = [member(i) for i in range(1, 6)]
    last, counts = None, dict.fromkeys(range(1, 6), 0)
    for _ in range(100):
        chosen = rank("round-robin", members, History(last_agent_position=last))[0]
        counts[chosen] += 1
        last = chosen  # position == id here
    assert counts == dict.fromkeys(range(1, 6), 20)


def test_random_is_a_shuffle_within_the_level():
    members = [member(1), member(2), member(3), member(9, level=2)]
    orders = {tuple(rank("random", members, History(rng=random.Random(seed)))) for seed in range(30)}
    assert len(orders) > 1
    assert all(order[-1] == 9 for order in orders)  # a level-2 member never before a level-1 one
    assert all(sorted(order) == [1, 2, 3, 9] for order in orders)


def test_a_better_level_always_comes_first_whatever_the_strategy():
    members = [member(1, level=2, idle_minutes=600), member(2, level=1, idle_minutes=1)]
    for strategy in ("longest-idle", "fewest-calls", "least-talk-time", "linear", "round-robin", "random"):
        assert rank(strategy, members)[0] == 2, strategy


def test_ties_are_broken_by_agent_id_so_the_choice_is_stable():
    assert rank("fewest-calls", [member(7, calls=1), member(4, calls=1)]) == [4, 7]


def test_levels_open_one_after_another_as_the_caller_waits():
    assert open_level(best_level=1, widen_after_seconds=30, waited=0) == 1
    assert open_level(best_level=1, widen_after_seconds=30, waited=29.9) == 1
    assert open_level(best_level=1, widen_after_seconds=30, waited=30) == 2
    assert open_level(best_level=2, widen_after_seconds=30, waited=95) == 5
    assert open_level(best_level=1, widen_after_seconds=None, waited=0) == 9  # no widening: all levels at once
