"""The kill-a-worker soak: `make soak` (or `.venv/bin/python -m bench.soak`). See bench/README.md.

10,000 status callbacks at 200 per second (2,500 calls, each reported initiated, ringing, in-progress and
completed, in that order and 12.5 s apart, as Twilio would), while one gunicorn worker is killed with SIGKILL
every 2 seconds; then 1,000 of them once more, as Twilio redelivers callbacks. The client retries on connection
errors and timeouts, as Twilio does, so a request whose worker died after committing is delivered twice too.
Then it counts CallLog rows: every event must be there exactly once (0 lost, 0 duplicated), every call must end
`completed`, and no answer may be an error.
"""

import argparse
import asyncio
import random
import signal
import sys
import threading
import time
from pathlib import Path

from . import common

STATUSES = ["initiated", "ringing", "in-progress", "completed"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="status callbacks to send (default 10000)")
    parser.add_argument("--rate", type=float, default=200, help="callbacks per second (default 200)")
    parser.add_argument("--kill-every", type=float, default=2.0, help="seconds between worker kills (default 2)")
    parser.add_argument("--port", type=int, default=8610)
    parser.add_argument("--database", default="voice_soak")
    parser.add_argument("--seed", type=int, default=8, help="random seed for which worker is killed")
    parser.add_argument("--replays", type=int, default=1000, help="answered callbacks sent again at the end")
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args(argv)


def seed_calls(count: int) -> list[str]:
    from django.utils import timezone

    from voiceconfig.models import Call, CallStatus, PhoneLine, VoiceConfig

    from .scenarios import CALLER, LINE_NUMBER, new_call_sid

    line = PhoneLine.objects.create(
        name="Soak", phone_number=LINE_NUMBER, config=VoiceConfig.objects.create(name="Soak")
    )
    now = timezone.now()
    calls = [
        Call(
            call_sid=new_call_sid(9),
            from_number=CALLER,
            to_number=LINE_NUMBER,
            status=CallStatus.QUEUED,
            phone_line=line,
            started_at=now,
        )
        for _ in range(count)
    ]
    Call.objects.bulk_create(calls, batch_size=5000)
    return [call.call_sid for call in calls]


def build_requests(port: int, call_sids: list[str]) -> list[tuple[str, str, bytes]]:
    """(call_sid, status, raw request), round by round: every call's first event, then every call's second..."""
    from .scenarios import status_params

    requests = []
    for sequence, status in enumerate(STATUSES):
        for sid in call_sids:
            params = status_params(sid, status=status, sequence=sequence, duration=42 if status == "completed" else 0)
            raw = common.signed_form_request(port=port, path="/voicetwilio/statuscallback", params=params)
            requests.append((sid, status, raw))
    return requests


class Killer(threading.Thread):
    """SIGKILLs one random gunicorn worker every `every` seconds until stopped."""

    def __init__(self, server: common.Server, every: float, seed: int):
        super().__init__(daemon=True)
        self.server, self.every, self.random = server, every, random.Random(seed)
        self.stopped = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            workers = self.server.worker_pids()
            if not workers:
                continue
            victim = self.random.choice(workers)
            try:
                import os

                os.kill(victim, signal.SIGKILL)
                self.kills += 1
            except ProcessLookupError:
                pass


async def send_all(requests: list[tuple[str, str, bytes]], *, port: int, rate: float):
    from .loadgen import RetryStats, send_with_retry

    stats = RetryStats()
    answers: dict[int, int | None] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1

    async def one(index: int) -> None:
        delay = start + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        call_sid, status, raw = requests[index]

        async def before_retry() -> None:
            # Was the event stored although its answer was lost? Then this retry is a duplicate the server must drop.
            if await asyncio.to_thread(event_stored, call_sid, status):
                stats.failures["committed before the answer was lost"] = (
                    stats.failures.get("committed before the answer was lost", 0) + 1
                )

        answers[index] = await send_with_retry(raw, host=common.HOST, port=port, stats=stats, before_retry=before_retry)

    await asyncio.gather(*(one(i) for i in range(len(requests))))
    return stats, answers


def event_stored(call_sid: str, status: str) -> bool:
    from django.db import connection

    from voiceconfig.models import CallEvent, CallLog

    try:
        return CallLog.objects.filter(call_sid=call_sid, call_status=status, event=CallEvent.STATUS).exists()
    finally:
        connection.close()


def verify(call_sids: list[str], expected: int) -> dict:
    from django.db.models import Count

    from voiceconfig.models import Call, CallEvent, CallLog

    rows = CallLog.objects.filter(call_sid__in=call_sids, event=CallEvent.STATUS)
    pairs = rows.values("call_sid", "call_status").annotate(n=Count("id"))
    stored = {(pair["call_sid"], pair["call_status"]) for pair in pairs}
    wanted = {(sid, status) for sid in call_sids for status in STATUSES}
    return {
        "rows": rows.count(),
        "expected": expected,
        "lost": len(wanted - stored),
        "duplicated": sum(pair["n"] - 1 for pair in pairs if pair["n"] > 1),
        "unexpected": len(stored - wanted),
        "not_completed": Call.objects.filter(call_sid__in=call_sids).exclude(status="completed").count(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    calls = args.events // len(STATUSES)
    env = common.environment(database=args.database, port=args.port)
    common.configure(env)
    started = time.monotonic()
    print(f"database {args.database}: recreate and migrate ...", flush=True)
    common.recreate_database(args.database)
    call_sids = seed_calls(calls)
    requests = build_requests(args.port, call_sids)
    log_path = Path("/tmp") / f"{args.database}-gunicorn.log"
    try:
        with common.Server(env, port=args.port, log_path=log_path) as server:
            print(
                f"gunicorn up with {len(server.worker_pids())} workers; sending {len(requests)} status callbacks at "
                f"{args.rate:g}/s, killing a worker every {args.kill_every:g} s (log: {log_path})",
                flush=True,
            )
            killer = Killer(server, args.kill_every, args.seed)
            killer.start()
            sending = time.monotonic()
            stats, answers = asyncio.run(send_all(requests, port=args.port, rate=args.rate))
            sent_in = time.monotonic() - sending
            # Twilio also redelivers callbacks we did answer: replay some, still killing workers; nothing may change.
            replays = random.Random(args.seed).sample(requests, min(args.replays, len(requests)))
            replay_stats, replay_answers = asyncio.run(send_all(replays, port=args.port, rate=args.rate))
            killer.stopped.set()
            killer.join()
        outcome = verify(call_sids, len(requests))
    finally:
        if not args.keep_database:
            common.drop_database(args.database)
    errors = {}
    for status in [*answers.values(), *replay_answers.values()]:
        if status is None or status >= 400:
            errors[str(status)] = errors.get(str(status), 0) + 1
    latencies = sorted(stats.latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0
    print(
        f"sent {stats.sent} callbacks in {sent_in:.1f} s ({stats.sent / sent_in:.0f}/s), {killer.kills} workers killed,"
        f" {stats.retries} retries after connection errors {stats.failures or ''}; p99 with retries {p99:.0f} ms"
    )
    print(
        f"then replayed {replay_stats.sent} already answered callbacks ({replay_stats.retries} retries): "
        "each must be dropped as a duplicate"
    )
    print(
        f"CallLog status rows: {outcome['rows']} of {outcome['expected']}; lost {outcome['lost']}, duplicated "
        f"{outcome['duplicated']}, unexpected {outcome['unexpected']}; calls not completed: {outcome['not_completed']};"
        f" error answers: {sum(errors.values())} {errors or ''}"
    )
    print(f"machine: {common.machine()}; done in {time.monotonic() - started:.0f} s")
    failed = (
        outcome["lost"]
        or outcome["duplicated"]
        or outcome["unexpected"]
        or outcome["not_completed"]
        or outcome["rows"] != outcome["expected"]
        or errors
        or killer.kills == 0
    )
    print("SOAK FAILED" if failed else "SOAK PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
