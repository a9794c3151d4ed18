"""The emulator's sense of time: virtual (a discrete-event clock) or real time, optionally sped up.

Virtual time is what makes a five-minute call play in a fraction of a second while the HTTP to the app stays
real. Every thread that acts in the emulator (a call leg, a scripted person, the callback dispatcher, a REST
request from the app) is counted as *running* while it does something other than waiting on this clock: an
HTTP request in flight to the app keeps its thread running, so time stands still while the app thinks. Time
jumps to the next deadline only when every such thread is waiting on the clock; a state change that makes a
waiter's condition true wakes it at the current instant instead. Nothing in the app sees virtual time: it
keeps its own real clock, so only behaviour driven by Twilio's requests (not by the app's timestamps) speeds up.

All emulator state is guarded by the one re-entrant lock held here (`Clock.lock`), so a waiter's condition
can be evaluated safely by whichever thread is deciding whether time may advance.
"""

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

logger = logging.getLogger(__name__)

INF = math.inf
Predicate = Callable[[], bool]


class _Waiter:
    __slots__ = ("predicate", "deadline", "woken", "result")

    def __init__(self, predicate: Predicate | None, deadline: float):
        self.predicate = predicate
        self.deadline = deadline
        self.woken = False
        self.result = False


class Clock:
    """Seconds since the emulator started, as seen by simulated people and by Twilio's timestamps."""

    def __init__(self, *, virtual: bool = True, speed: float = 1.0, epoch: datetime | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.virtual = virtual
        self.speed = speed
        self.epoch = epoch or datetime.now(UTC).replace(microsecond=0)
        self._now = 0.0
        self._t0 = time.monotonic()
        self._running = 0
        self._waiters: list[_Waiter] = []

    # --- reading the time -------------------------------------------------------------------
    def now(self) -> float:
        if self.virtual:
            return self._now
        return (time.monotonic() - self._t0) * self.speed

    def datetime(self) -> datetime:
        return self.epoch + timedelta(seconds=self.now())

    # --- waiting ----------------------------------------------------------------------------
    def wait(self, predicate: Predicate | None = None, timeout: float | None = None) -> bool:
        """Block until `predicate()` is true (return True) or `timeout` clock seconds pass (return False)."""
        with self.cond:
            if predicate is not None and self._check(predicate):
                return True
            deadline = INF if timeout is None else self.now() + max(0.0, timeout)
            if predicate is None and deadline == INF:
                raise ValueError("waiting forever for nothing")
            if self.virtual:
                return self._wait_virtual(predicate, deadline)
            return self._wait_real(predicate, deadline)

    def sleep(self, seconds: float) -> None:
        self.wait(None, seconds)

    def _wait_virtual(self, predicate: Predicate | None, deadline: float) -> bool:
        waiter = _Waiter(predicate, deadline)
        self._waiters.append(waiter)
        self._running -= 1
        self._schedule()
        while not waiter.woken:
            self.cond.wait()
        return waiter.result

    def _wait_real(self, predicate: Predicate | None, deadline: float) -> bool:
        while True:
            if predicate is not None and self._check(predicate):
                return True
            remaining = deadline - self.now()
            if remaining <= 0:
                return False
            self.cond.wait(min(remaining / self.speed, 0.5))

    @staticmethod
    def _check(predicate: Predicate) -> bool:
        try:
            return bool(predicate())
        except Exception:  # a broken condition must wake its thread, which will then see the error itself
            logger.exception("clock predicate failed")
            return True

    def _wake(self, waiter: _Waiter, result: bool) -> None:
        self._waiters.remove(waiter)
        waiter.woken = True
        waiter.result = result
        self._running += 1

    def _schedule(self) -> None:
        """Wake every waiter whose condition holds; if none and nothing runs, jump to the next deadline."""
        ready = [w for w in self._waiters if w.predicate is not None and self._check(w.predicate)]
        for waiter in ready:
            self._wake(waiter, True)
        if not ready and self._running <= 0 and self._waiters:
            next_deadline = min(w.deadline for w in self._waiters)
            if next_deadline != INF:
                self._now = max(self._now, next_deadline)
                for waiter in [w for w in self._waiters if w.deadline <= self._now]:
                    self._wake(waiter, False)
                ready = [True]
        if ready:
            self.cond.notify_all()

    # --- telling the clock that something happened -------------------------------------------
    def changed(self) -> None:
        """State changed: waiters whose condition became true wake now."""
        with self.cond:
            if self.virtual:
                self._schedule()
            else:
                self.cond.notify_all()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Count the current thread as busy (a REST request from the app, the scenario's main thread)."""
        with self.cond:
            self._running += 1
        try:
            yield
        finally:
            with self.cond:
                self._running -= 1
                if self.virtual:
                    self._schedule()
                else:
                    self.cond.notify_all()

    def spawn(self, target: Callable[[], None], *, name: str) -> threading.Thread:
        """Start an actor thread, counted as running from this instant (so time cannot slip past its start)."""
        with self.cond:
            self._running += 1

        def run() -> None:
            try:
                target()
            except Exception:
                logger.exception("emulator thread %s crashed", name)
            finally:
                with self.cond:
                    self._running -= 1
                    if self.virtual:
                        self._schedule()
                    else:
                        self.cond.notify_all()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    def describe(self) -> str:
        with self.cond:
            return f"t={self.now():.1f}s running={self._running} waiting={len(self._waiters)}"
