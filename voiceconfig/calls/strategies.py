"""Ring strategies (issue 16): each a small function that orders a department's eligible members.

Pure functions over `Candidate` rows that `departments.candidates_for` read in one query, so each is pinned by a
unit test on a hand-made history. The caller always ranks by level first (1 best), then by the strategy; the
reservation takes the first ranked member it can lock (SKIP LOCKED), so a member another request is taking is
passed over, never waited for.
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..models import RingStrategy

# Sorts before any real time: an agent who never had a call has been idle longest.
NEVER = datetime.min


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    level: int
    position: int  # the listed order in the department
    idle_since: datetime | None  # when their last call ended (None: never had one)
    calls_today: int = 0  # calls answered since midnight in the department's time zone
    talk_seconds_today: int = 0


@dataclass(frozen=True)
class History:
    """What a strategy may remember besides the candidates themselves."""

    last_agent_position: int | None = None  # round-robin: the listed position of the member rung last
    rng: random.Random | None = None


Key = Callable[[Candidate, History], tuple]


def _idle(candidate: Candidate) -> datetime:
    return (candidate.idle_since or NEVER).replace(tzinfo=None)


def longest_idle(candidate: Candidate, history: History) -> tuple:
    return (_idle(candidate), candidate.agent_id)


def round_robin(candidate: Candidate, history: History) -> tuple:
    """The member listed after the last one rung, wrapping round (Asterisk's rrmemory)."""
    last = history.last_agent_position
    wrapped = last is not None and candidate.position <= last
    return (wrapped, candidate.position, candidate.agent_id)


def fewest_calls(candidate: Candidate, history: History) -> tuple:
    return (candidate.calls_today, _idle(candidate), candidate.agent_id)


def least_talk_time(candidate: Candidate, history: History) -> tuple:
    return (candidate.talk_seconds_today, _idle(candidate), candidate.agent_id)


def linear(candidate: Candidate, history: History) -> tuple:
    return (candidate.position, candidate.agent_id)


KEYS: dict[str, Key] = {
    RingStrategy.LONGEST_IDLE: longest_idle,
    RingStrategy.ROUND_ROBIN: round_robin,
    RingStrategy.FEWEST_CALLS: fewest_calls,
    RingStrategy.LEAST_TALK_TIME: least_talk_time,
    RingStrategy.LINEAR: linear,
    # ring-all rings every eligible member (ringall.py); its order only says who is listed first.
    RingStrategy.RING_ALL: longest_idle,
}


def rank(strategy: str, candidates: Sequence[Candidate], history: History | None = None) -> list[int]:
    """Agent ids, best first: level first (1 best), then the strategy's order within the level."""
    history = history or History()
    if strategy == RingStrategy.RANDOM:
        rng = history.rng or random.SystemRandom()
        shuffled = list(candidates)
        rng.shuffle(shuffled)
        return [c.agent_id for c in sorted(shuffled, key=lambda c: c.level)]  # sorted() is stable
    key = KEYS.get(strategy, longest_idle)
    return [c.agent_id for c in sorted(candidates, key=lambda c: (c.level, *key(c, history)))]


def needs_today(strategy: str) -> bool:
    """Whether the strategy reads today's answered calls (the query adds them only then)."""
    return strategy in (RingStrategy.FEWEST_CALLS, RingStrategy.LEAST_TALK_TIME)
