"""The emulator's virtual clock: time stands still while anyone is busy and jumps when everyone waits."""

import threading
import time

from twilio_emulator.clock import Clock


def test_a_long_sleep_takes_no_real_time_when_nobody_else_is_busy():
    clock = Clock(virtual=True)
    started = time.monotonic()
    with clock.running():
        clock.sleep(3600)
    assert clock.now() == 3600
    assert time.monotonic() - started < 1


def test_time_stands_still_while_another_thread_is_busy():
    clock = Clock(virtual=True)
    busy = threading.Event()
    release = threading.Event()
    seen: list[float] = []

    def worker():
        with clock.running():
            busy.set()
            release.wait(5)  # e.g. waiting for the app to answer a webhook

    threading.Thread(target=worker).start()
    busy.wait(5)

    def sleeper():
        with clock.running():
            clock.sleep(10)
            seen.append(clock.now())

    thread = threading.Thread(target=sleeper)
    thread.start()
    time.sleep(0.2)
    assert seen == [] and clock.now() == 0, "no time may pass while the worker is busy"
    release.set()
    thread.join(5)
    assert seen == [10]


def test_a_waiter_wakes_at_the_instant_its_condition_becomes_true():
    clock = Clock(virtual=True)
    state = {"answered": False}
    woke: list[tuple[bool, float]] = []

    def caller():
        result = clock.wait(lambda: state["answered"], 60)
        woke.append((result, clock.now()))

    with clock.running():
        clock.spawn(caller, name="caller")
        clock.sleep(5)
        with clock.lock:
            state["answered"] = True
            clock.changed()
        clock.sleep(1)
    assert woke == [(True, 5)]


def test_a_waiter_whose_condition_never_comes_true_times_out_at_its_deadline():
    clock = Clock(virtual=True)
    with clock.running():
        assert clock.wait(lambda: False, 20) is False
    assert clock.now() == 20


def test_real_time_runs_at_the_given_speed():
    clock = Clock(virtual=False, speed=100)
    started = time.monotonic()
    clock.sleep(20)  # 0.2 s of real time at 100x
    assert 0.15 < time.monotonic() - started < 2
    assert clock.now() >= 20
