"""Console actions racing the emulator's callbacks (issue 12 item 2), on the e2e stack's real gunicorn.

Alice talks to a caller; from several threads at once the console API is asked to hold, resume and (warm) transfer
the call while the emulator delivers the conference callbacks each hold and resume causes. On SQLite (one gunicorn
worker, four threads, a file database) and on PostgreSQL (two workers) alike:
- no request answers 5xx (a conflict is a fair 409; a lost race must never be a 500 or a `database is locked`);
- no row is lost: every hold or resume the API reported as done is one CallLog row, and every conference callback
  the emulator delivered is one CallLog row;
- once the callbacks have settled, the emulator's caller is on hold exactly when the database says so.
"""

import threading
from collections import Counter

import pytest

from twilio_emulator import scenario as scenarios
from twilio_emulator.appclient import AppClient
from twilio_emulator.people import Console

pytestmark = pytest.mark.e2e

LINE = "+14155550121"
PARTNER = "+14155550187"
ROUNDS = 6
HOLD_EVENTS = ("participant-hold", "participant-unhold")

SCENARIO = {
    "name": "Console races the callbacks",
    "line": LINE,
    "setup": {
        "config": {
            "name": "Scenario: console race",
            "greetingText": "Thank you for calling.",
            "ivrPrompt": "",
            "ivrOptions": [],
            "businessHours": [],
            "holidays": [],
            "ringTimeoutSeconds": 15,
            "maxQueueWaitSeconds": 300,
            "wrapUpSeconds": 60,
        },
        "line": {"name": "Scenario: console race", "agents": ["alice"]},
        "agents": {"alice": "available", "bob": "offline"},
    },
    # The caller stays until the test is done (time stands still while it fires its requests).
    "caller": {"steps": [{"hangup": True, "on": "connected", "after": 600}]},
    "agents": {"alice": {"answer": {"after": 2}}},
    "numbers": {PARTNER: {"name": "partner", "answer": {"after": 2}}},
}


def fire_together(requests: list[tuple[str, dict]], make_console) -> list:
    """POST every (path, body) at the same instant, each from its own HTTP client; return the replies in order."""
    barrier = threading.Barrier(len(requests))
    replies: list = [None] * len(requests)

    def worker(index: int, path: str, body: dict) -> None:
        console = make_console()
        console.token()  # logged in before the start line, so the requests really race
        barrier.wait()
        replies[index] = console.post(path, body)

    threads = [threading.Thread(target=worker, args=(i, *request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return replies


def caller_participant(world, call_sid: str):
    with world.lock:
        for conference in world.conferences.values():
            participant = conference.participants.get(call_sid)
            if participant is not None and participant.joined and not participant.left:
                return participant
    return None


def test_hold_resume_and_transfer_racing_the_callbacks_lose_nothing(e2e_stack):
    runner, world, app = e2e_stack.runner, e2e_stack.emulator.world, e2e_stack.app
    scenario = scenarios.parse(SCENARIO)
    clock = world.clock
    world.timeline.clear()
    caller, consoles = runner.people(scenario)
    admin = runner.admin_token()
    password = consoles["alice"].password

    def alice() -> Console:
        return Console(AppClient(app.url), username="alice", password=password)

    def db_call() -> dict:
        [row] = runner.app.get_all("/voiceconfig/calls", token=admin, params={"callSid": call.sid})
        return row

    def settled() -> bool:
        return not world._callbacks and not world._sending

    replies = []
    with clock.running():
        runner.apply_setup(scenario, consoles)
        call = world.place_inbound_call(from_="+14155550142", to=LINE, party=caller)
        # Virtual time runs while this thread waits: the caller gets through the greeting and Alice answers.
        assert clock.wait(lambda: caller_participant(world, call.sid) is not None, 120)
        assert clock.wait(lambda: settled() and db_call()["stage"] == "connected", 60), db_call()
        hold, resume = (f"/voicetwilio/calls/{call.sid}:{action}" for action in ("onhold", "resume"))
        for round_number in range(ROUNDS):
            batch = [(hold, {}), (hold, {}), (resume, {})] if round_number % 2 == 0 else [(resume, {}), (resume, {})]
            if round_number == 2:
                transfer = f"/voicetwilio/calls/{call.sid}:transfer"
                batch.append((transfer, {"type": "phonenumber", "to": PARTNER, "mode": "warm"}))
            replies += [(path, reply) for (path, _), reply in zip(batch, fire_together(batch, alice), strict=True)]
        # Every callback the actions caused is delivered (time still stands still, so the call is still live).
        assert clock.wait(settled, 60)
        participant = caller_participant(world, call.sid)
        emulator_on_hold = participant is not None and participant.hold
        database_on_hold = db_call()["onHold"]
        # Let the call finish: the caller hangs up, the partner and Alice leave.
        finished = clock.wait(world.idle, 900)

    statuses = Counter(reply.status for _, reply in replies)
    print(f"answers {dict(statuses)}; on hold: emulator {emulator_on_hold}, database {database_on_hold}")
    assert all(status < 500 for status in statuses), [(p, r.status, r.data) for p, r in replies if r.status >= 500]
    assert set(statuses) <= {200, 409}, statuses
    assert any(path.endswith(":transfer") and reply.status == 200 for path, reply in replies), replies
    assert emulator_on_hold == database_on_hold
    assert finished, "the call was still going at the end"

    errors = [entry.text for entry in world.timeline.entries if entry.kind == "error"]
    assert errors == []
    final = db_call()
    logs = runner.app.get_all("/voiceconfig/calllogs", token=admin, params={"call": final["id"]})
    events = Counter(row["event"] for row in logs)
    changed = Counter(
        path.rsplit(":", 1)[1] for path, reply in replies if reply.status == 200 and reply.data.get("changed")
    )
    assert events["hold"] == changed["onhold"] and events["hold"] >= 1
    # The end of the call may close a hold the API left open: one more resume row then, never one fewer.
    assert events["resume"] - changed["resume"] in (0, int(database_on_hold))
    delivered = {
        (entry.data["params"]["StatusCallbackEvent"], entry.data["params"].get("SequenceNumber"))
        for entry in world.timeline.entries
        if entry.who == "webhook" and entry.data.get("params", {}).get("StatusCallbackEvent") in HOLD_EVENTS
    }
    recorded = {
        (row["data"].get("StatusCallbackEvent"), row["data"].get("SequenceNumber"))
        for row in logs
        if row["data"].get("StatusCallbackEvent") in HOLD_EVENTS
    }
    print(f"log rows {dict(events)}; changed {dict(changed)}; hold callbacks delivered {len(delivered)}")
    assert delivered and recorded == delivered
    assert final["status"] == "completed"
