"""The webhook benchmark: `make bench` (or `.venv/bin/python -m bench.run`). See bench/README.md.

Starts gunicorn with the project's gunicorn.conf.py on its own PostgreSQL database (voice_bench, recreated and
migrated), seeds it, and measures with loopback load (wrk for maximum throughput, an open-loop sender for fixed
rates) the incoming-call, status-callback and gather webhooks, a list of 50 calls, and two baselines served the
same way: one indexed read, and one indexed read plus one committed insert. Prints every figure with its ratio
to the baselines, checks the targets and exits non-zero when one is missed.
"""

import argparse
import json
import sys
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

from . import common

BASELINE_READ = "baseline-read"
BASELINE_INSERT = "baseline-read-insert"
SCENARIOS = [BASELINE_READ, BASELINE_INSERT, "incoming", "status", "gather", "list"]
# Headroom for the pools: no scenario is expected to pass this many requests per second on the machine.
MAX_RATE_GUESS = 3500

# The targets of issue 8 on a 2-core machine with durable commits.
THROUGHPUT_TARGETS = {"status": 0.65, "incoming": 0.45}  # share of the read+insert baseline
LATENCY_TARGETS = {("status", 300): 50.0, ("incoming", 200): 100.0}  # p99 ms at a fixed rate
# A fixed rate above this share of a scenario's measured maximum is not run (it cannot be sustained).
ABOVE_CAPACITY = 0.95


class Pool:
    """Distinct requests of one scenario; each run takes the next ones and never sees a request twice."""

    def __init__(self, requests: list[bytes]):
        self.requests, self.cursor = requests, 0

    def remaining(self) -> list[bytes]:
        return self.requests[self.cursor :]

    def take(self, count: int) -> list[bytes]:
        taken = self.requests[self.cursor : self.cursor + count]
        self.cursor += len(taken)
        return taken

    def advance(self, count: int) -> None:
        self.cursor += count


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each measured run (default 10)")
    parser.add_argument("--rates", default="200,300", help="fixed request rates per second (default 200,300)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections for max throughput")
    parser.add_argument("--rounds", type=int, default=3, help="max-throughput rounds, each seconds/rounds long")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--database", default="voice_bench")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--smoke", action="store_true", help="CI: tiny runs that only check 0 errors (no speed targets)"
    )
    parser.add_argument("--keep-database", action="store_true", help="leave voice_bench for inspection")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.rates, args.connections, args.rounds = 1, "50", 4, 1
    args.rates = [int(rate) for rate in args.rates.split(",") if rate]
    args.scenarios = [name for name in args.scenarios.split(",") if name]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def durability() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        settings = {}
        for name in ("synchronous_commit", "fsync", "full_page_writes", "server_version"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return settings


def build_pools(args: argparse.Namespace, seeded, port: int) -> dict[str, Pool]:
    from . import scenarios

    per_scenario = int(MAX_RATE_GUESS * (args.seconds + 1) + sum(args.rates) * args.seconds) + 1000
    sids = seeded.status_sids
    half = len(sids) // 2
    builders = {
        BASELINE_READ: lambda: scenarios.baseline_requests(port, "/bench/read", sids[:half]),
        BASELINE_INSERT: lambda: scenarios.baseline_requests(port, "/bench/read-insert", sids[half:]),
        "incoming": lambda: scenarios.incoming_requests(port, per_scenario),
        "status": lambda: scenarios.status_requests(port, sids),
        "gather": lambda: scenarios.gather_requests(port, seeded.gather_sids),
        "list": lambda: scenarios.list_requests(port, seeded.staff_token, per_scenario),
    }
    return {name: Pool(builders[name]()) for name in args.scenarios}


def pool_size(args: argparse.Namespace) -> int:
    return int(MAX_RATE_GUESS * (args.seconds + 1) + sum(args.rates) * args.seconds) + 1000


def measure(args: argparse.Namespace, pools: dict[str, Pool], server: common.Server) -> dict:
    from . import loadgen

    results: dict = {name: {"fixed": {}} for name in pools}
    print("warming up ...", flush=True)
    for pool in pools.values():
        warm = loadgen.max_throughput(pool.remaining(), url=server.url, seconds=1, connections=args.connections)
        pool.advance(warm.consumed)
    # Rounds interleave the scenarios, so that a burst of other load on the machine hits them all alike.
    rounds: dict[str, list] = {name: [] for name in pools}
    for round_number in range(args.rounds):
        for name, pool in pools.items():
            result = loadgen.max_throughput(
                pool.remaining(), url=server.url, seconds=args.seconds / args.rounds, connections=args.connections
            )
            pool.advance(result.consumed)
            rounds[name].append(result)
            print(
                f"  round {round_number + 1} {name:22} max {result.rate:8.1f} req/s  p50 {result.p50_ms:6.1f} ms"
                f"  p99 {result.p99_ms:6.1f} ms  errors {result.errors}",
                flush=True,
            )
    for name, measured in rounds.items():
        results[name]["max"] = loadgen.combine(measured)
    # Let the saturation runs' aftermath (worker recycling, autovacuum of the inserted rows) settle first.
    drain(server)
    time.sleep(3)
    for rate in args.rates:
        for name, pool in pools.items():
            capacity = results[name]["max"].rate
            if rate > ABOVE_CAPACITY * capacity:
                # An open-loop run above capacity only builds a backlog that the next runs would pay for.
                print(f"  {name:22} @{rate}/s  skipped: above its maximum of {capacity:.0f} req/s", flush=True)
                continue
            result = loadgen.fixed_rate(
                pool.take(int(rate * args.seconds)),
                host=common.HOST,
                port=args.port,
                rate=rate,
                seconds=args.seconds,
            )
            results[name]["fixed"][rate] = result
            print(
                f"  {name:22} @{rate}/s  achieved {result.rate:7.1f}  p50 {result.p50_ms:6.1f} ms"
                f"  p99 {result.p99_ms:6.1f} ms  max {result.max_ms:7.1f} ms  errors {result.errors}"
                + (f" {result.detail['errors']}" if result.errors else ""),
                flush=True,
            )
            drain(server)
    return results


def drain(server: common.Server, *, limit: float = 60.0) -> None:
    """Wait until requests queued by a run that fell behind are served, so the next run starts from idle."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=limit) as answer:
                answer.read()
        except OSError:
            pass
        if time.monotonic() - started < 0.05:
            return
        time.sleep(0.5)


def report(args: argparse.Namespace, results: dict, facts: dict) -> list[str]:
    """Print the table; return the missed targets."""
    read = results.get(BASELINE_READ, {}).get("max")
    insert = results.get(BASELINE_INSERT, {}).get("max")
    print()
    print(
        f"Machine: {facts['machine']}; PostgreSQL {facts['postgres']['server_version']}, synchronous_commit="
        f"{facts['postgres']['synchronous_commit']}, fsync={facts['postgres']['fsync']}; gunicorn "
        f"{facts['workers']} sync workers; {args.seconds:g} s per run ({args.rounds} interleaved rounds for max), "
        f"wrk {args.connections} connections"
    )
    rate_headers = "".join(f" | @{rate}/s p50 / p99 ms" for rate in args.rates)
    print(f"{'scenario':22} | max req/s | p50 / p99 ms | vs read | vs read+insert{rate_headers} | errors")
    failures = []
    for name, figures in results.items():
        best = figures["max"]
        ratio_read = f"{best.rate / read.rate:6.0%}" if read and read.rate else "   n/a"
        ratio_insert = f"{best.rate / insert.rate:13.0%}" if insert and insert.rate else "          n/a"
        fixed = "".join(
            f" | {figures['fixed'][rate].p50_ms:7.1f} / {figures['fixed'][rate].p99_ms:6.1f}  "
            if rate in figures["fixed"]
            else f" | {'over capacity':>17}  "
            for rate in args.rates
        )
        errors = best.errors + sum(result.errors for result in figures["fixed"].values())
        print(
            f"{name:22} | {best.rate:9.0f} | {best.p50_ms:5.1f} / {best.p99_ms:5.1f} | {ratio_read}  | "
            f"{ratio_insert}{fixed} | {errors}"
        )
        if errors:
            failures.append(f"{name}: {errors} errors")
        if args.smoke:
            continue
        if name in THROUGHPUT_TARGETS and insert and insert.rate:
            share = best.rate / insert.rate
            if share < THROUGHPUT_TARGETS[name]:
                failures.append(
                    f"{name}: {share:.0%} of the read+insert baseline, target {THROUGHPUT_TARGETS[name]:.0%}"
                )
        for (target_name, rate), limit in LATENCY_TARGETS.items():
            if target_name == name and rate in args.rates and rate not in figures["fixed"]:
                failures.append(f"{name}: cannot sustain {rate}/s (maximum {best.rate:.0f} req/s)")
            elif target_name == name and rate in figures["fixed"] and figures["fixed"][rate].p99_ms >= limit:
                failures.append(
                    f"{name}: p99 {figures['fixed'][rate].p99_ms:.1f} ms at {rate}/s, target < {limit:g} ms"
                )
    print()
    return failures


def to_json(results: dict, facts: dict, args: argparse.Namespace) -> dict:
    return {
        "facts": facts,
        "seconds": args.seconds,
        "connections": args.connections,
        "results": {
            name: {
                "max": asdict(figures["max"]) | {"rate": figures["max"].rate},
                "fixed": {rate: asdict(result) | {"rate": result.rate} for rate, result in figures["fixed"].items()},
            }
            for name, figures in results.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = common.environment(database=args.database, port=args.port, BENCH_BASELINE_VIEWS="1")
    common.configure(env)
    from . import loadgen, scenarios

    loadgen.ensure_wrk()
    started = time.monotonic()
    print(f"database {args.database}: recreate and migrate ...", flush=True)
    common.recreate_database(args.database)
    facts = {"machine": common.machine(), "postgres": durability()}
    if facts["postgres"]["synchronous_commit"] != "on" or facts["postgres"]["fsync"] != "on":
        print("warning: PostgreSQL commits are not durable here; the figures are not comparable", flush=True)
    size = pool_size(args)
    print(f"seeding {2 * size} calls and signing the requests ...", flush=True)
    seeded = scenarios.seed(status_calls=size * 2, gather_calls=size)
    pools = build_pools(args, seeded, args.port)
    log_path = Path("/tmp") / f"{args.database}-gunicorn.log"
    try:
        with common.Server(env, port=args.port, log_path=log_path) as server:
            facts["workers"] = len(server.worker_pids())
            print(f"gunicorn up at {server.url} with {facts['workers']} workers (log: {log_path})", flush=True)
            results = measure(args, pools, server)
    finally:
        if not args.keep_database:
            common.drop_database(args.database)
    failures = report(args, results, facts)
    if args.json:
        args.json.write_text(json.dumps(to_json(results, facts, args), indent=2, default=str))
    print(f"done in {time.monotonic() - started:.0f} s")
    for failure in failures:
        print(f"MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
