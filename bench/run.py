"""The webhook benchmark: `make bench` (or `.venv/bin/python -m bench.run`). See bench/README.md.

Starts gunicorn with the project's gunicorn.conf.py on its own PostgreSQL database (voice_bench, recreated and
migrated), seeds it, and measures with loopback load (wrk for maximum throughput, an open-loop sender for fixed
rates) the incoming-call, status-callback and gather webhooks, a list of 50 calls, and three baselines: the bare
baseline (a minimal Django app of its own, bench/bare/, served by a second gunicorn with the same settings: one
indexed read and one committed insert, nothing else), and behind the project's middleware one indexed read and
one read plus insert. Prints every figure with its ratio to the baselines, checks the targets (against the bare
baseline) and exits non-zero when one is missed.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

from . import common

BARE = "bare-baseline"
BASELINE_READ = "baseline-read"
BASELINE_INSERT = "baseline-read-insert"
SCENARIOS = [BARE, BASELINE_READ, BASELINE_INSERT, "incoming", "status", "gather", "list"]
BARE_APP = "bench.bare.wsgi:application"
BARE_SETTINGS = "bench.bare.settings"
# Headroom for the pools: no scenario is expected to pass this many requests per second on the machine (the bare
# baseline, the fastest, served ~1,000 on an idle 2-core machine). A faster one runs out of distinct requests,
# which wrk reports and the bench counts as errors, never silently. Signing the pools is most of the setup time.
MAX_RATE_GUESS = 2000

# The targets of issue 14 on a 2-core machine with durable commits: shares of the bare baseline's throughput, and
# p99 latencies at a fixed rate of half the bare baseline's measured maximum.
THROUGHPUT_TARGETS = {"status": 0.75, "incoming": 0.60, "gather": 0.55}
LATENCY_TARGETS = {"status": 50.0, "incoming": 100.0}  # p99 ms at the half-bare rate
# A fixed rate above this share of a scenario's measured maximum is not run (it cannot be sustained).
ABOVE_CAPACITY = 0.95


class Pool:
    """Distinct requests of one scenario, and the server they go to; a run never sees a request twice."""

    def __init__(self, requests: list[bytes], *, port: int):
        self.requests, self.cursor, self.port = requests, 0, port

    @property
    def url(self) -> str:
        return f"http://{common.HOST}:{self.port}"

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
    parser.add_argument(
        "--rates",
        default="half-bare",
        help="fixed request rates per second, comma-separated (default: half the bare baseline's measured maximum)",
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections for max throughput")
    parser.add_argument("--rounds", type=int, default=3, help="max-throughput rounds, each seconds/rounds long")
    parser.add_argument(
        "--fixed-rounds",
        type=int,
        default=5,
        help="fixed-rate rounds, each seconds/rounds long; the median round is the figure (default 5)",
    )
    parser.add_argument("--port", type=int, default=8600, help="the project's port; the bare baseline's is the next")
    parser.add_argument("--database", default="voice_bench")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--smoke", action="store_true", help="CI: tiny runs that only check 0 errors (no speed targets)"
    )
    parser.add_argument("--keep-database", action="store_true", help="leave voice_bench for inspection")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.rates, args.connections, args.rounds, args.fixed_rounds = 1, "50", 4, 1, 1
    # Empty until the bare baseline's maximum is measured (measure() fills it in).
    args.rates = [] if args.rates == "half-bare" else [int(rate) for rate in args.rates.split(",") if rate]
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

    per_scenario = pool_size(args)
    sids = seeded.status_sids
    third = len(sids) // 3
    bare_port = port + 1
    builders = {
        BARE: lambda: scenarios.baseline_requests(bare_port, "/bench/bare", sids[2 * third :]),
        BASELINE_READ: lambda: scenarios.baseline_requests(port, "/bench/read", sids[:third]),
        BASELINE_INSERT: lambda: scenarios.baseline_requests(port, "/bench/read-insert", sids[third : 2 * third]),
        "incoming": lambda: scenarios.incoming_requests(port, per_scenario),
        "status": lambda: scenarios.status_requests(port, sids),
        "gather": lambda: scenarios.gather_requests(port, seeded.gather_sids),
        "list": lambda: scenarios.list_requests(port, seeded.staff_token, per_scenario),
    }
    return {name: Pool(builders[name](), port=bare_port if name == BARE else port) for name in args.scenarios}


def pool_size(args: argparse.Namespace) -> int:
    # The fixed rate is not known before the bare baseline is measured: half its maximum, so half the guess.
    fixed = sum(args.rates) if args.rates else MAX_RATE_GUESS // 2
    fixed_seconds = args.seconds * args.fixed_rounds / args.rounds
    return int(MAX_RATE_GUESS * (args.seconds + 1) + fixed * fixed_seconds) + 1000


def measure(args: argparse.Namespace, pools: dict[str, Pool], servers: list[common.Server]) -> dict:
    from . import loadgen

    results: dict = {name: {"fixed": {}} for name in pools}
    print("warming up ...", flush=True)
    for pool in pools.values():
        warm = loadgen.max_throughput(pool.remaining(), url=pool.url, seconds=1, connections=args.connections)
        pool.advance(warm.consumed)
    # Rounds interleave the scenarios, so that a burst of other load on the machine hits them all alike.
    rounds: dict[str, list] = {name: [] for name in pools}
    for round_number in range(args.rounds):
        for name, pool in pools.items():
            result = loadgen.max_throughput(
                pool.remaining(), url=pool.url, seconds=args.seconds / args.rounds, connections=args.connections
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
    if not args.rates:
        bare = results.get(BARE, {}).get("max")
        if not bare or not bare.rate:
            raise SystemExit("--rates half-bare needs the bare-baseline scenario; name the rates with --rates")
        args.rates = [max(1, round(bare.rate / 2))]
        print(f"fixed rate: half the bare baseline's maximum, {args.rates[0]} req/s", flush=True)
    # Let the saturation runs' aftermath (worker recycling, autovacuum of the inserted rows) settle first.
    for server in servers:
        drain(server)
    time.sleep(3)
    # Fixed-rate runs are interleaved in rounds too, and a scenario's figure is its median round: one burst of
    # other work (a checkpoint, another process, the hypervisor serving other guests) then sinks one round of one
    # scenario, not the target. Five rounds, because on this VM such a burst hit about one round in three.
    for rate in args.rates:
        runnable = {}
        for name in pools:
            capacity = results[name]["max"].rate
            if rate > ABOVE_CAPACITY * capacity:
                # An open-loop run above capacity only builds a backlog that the next runs would pay for.
                print(f"  {name:22} @{rate}/s  skipped: above its maximum of {capacity:.0f} req/s", flush=True)
                continue
            runnable[name] = []
        seconds = args.seconds / args.rounds
        for round_number in range(args.fixed_rounds):
            for name, measured in runnable.items():
                pool = pools[name]
                result = loadgen.fixed_rate(
                    pool.take(int(rate * seconds)), host=common.HOST, port=pool.port, rate=rate, seconds=seconds
                )
                measured.append(result)
                print(
                    f"  round {round_number + 1} {name:22} @{rate}/s  achieved {result.rate:7.1f}"
                    f"  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  max {result.max_ms:7.1f} ms"
                    f"  errors {result.errors}"
                    + (f" {result.detail['errors']}" if result.errors else "")
                    + stolen(result),
                    flush=True,
                )
                for server in servers:
                    drain(server)
        for name, measured in runnable.items():
            results[name]["fixed"][rate] = loadgen.combine_fixed(measured)
    return results


def stolen(result) -> str:
    """The CPU the hypervisor took during a fixed-rate round: its total and its worst 100 ms (both cores)."""
    if "steal_ms" not in result.detail:
        return ""
    return f"  steal {result.detail['steal_ms']} ms (worst 100 ms: {result.detail['steal_peak_ms']} ms)"


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


def ratio(figure, baseline, width: int) -> str:
    return f"{figure.rate / baseline.rate:{width}.0%}" if baseline and baseline.rate else f"{'n/a':>{width}}"


def report(args: argparse.Namespace, results: dict, facts: dict) -> list[str]:
    """Print the table; return the missed targets (throughput and latency against the bare baseline)."""
    bare = results.get(BARE, {}).get("max")
    read = results.get(BASELINE_READ, {}).get("max")
    insert = results.get(BASELINE_INSERT, {}).get("max")
    print()
    print(
        f"Machine: {facts['machine']}; PostgreSQL {facts['postgres']['server_version']}, synchronous_commit="
        f"{facts['postgres']['synchronous_commit']}, fsync={facts['postgres']['fsync']}; gunicorn "
        f"{facts['workers']} sync workers; {args.seconds:g} s per run "
        f"({args.rounds} interleaved rounds for max, {args.fixed_rounds} for the fixed rate), "
        f"wrk {args.connections} connections; load average {facts['load_before']} before, "
        f"{os.getloadavg()[0]:.1f} after (other work on the machine moves the absolute figures, not the ratios much)"
    )
    print(
        "Ratios: 'vs bare' against the bare baseline (bench/bare: no project middleware, read + committed insert); "
        "'vs read' and 'vs read+insert' against the baselines served behind the project's middleware."
    )
    rate_headers = "".join(f" | @{rate}/s p50 / p99 ms" for rate in args.rates)
    print(f"{'scenario':22} | max req/s | p50 / p99 ms | vs bare | vs read | vs read+insert{rate_headers} | errors")
    failures = []
    for name, figures in results.items():
        best = figures["max"]
        fixed = "".join(
            f" | {figures['fixed'][rate].p50_ms:7.1f} / {figures['fixed'][rate].p99_ms:6.1f}  "
            if rate in figures["fixed"]
            else f" | {'over capacity':>17}  "
            for rate in args.rates
        )
        errors = best.errors + sum(result.errors for result in figures["fixed"].values())
        print(
            f"{name:22} | {best.rate:9.0f} | {best.p50_ms:5.1f} / {best.p99_ms:5.1f} | {ratio(best, bare, 7)} | "
            f"{ratio(best, read, 7)} | {ratio(best, insert, 14)}{fixed} | {errors}"
        )
        if errors and args.smoke:
            failures.append(f"{name}: {errors} errors")
    print()
    if not args.smoke:
        checks = target_checks(results, bare, args.rates)
        print_targets(checks)
        failures += [f"{target}: {measured}" for target, measured, passed in checks if not passed]
    return failures


def target_checks(results: dict, bare, rates: list[int]) -> list[tuple[str, str, bool]]:
    """Each target of issue 14 against the bare baseline of this run: (target, what was measured, met)."""
    checks = []
    for name, share in THROUGHPUT_TARGETS.items():
        if name not in results:
            continue
        target = f"{name} throughput >= {share:.0%} of bare"
        if not (bare and bare.rate):
            checks.append((target, "no bare baseline measured", False))
            continue
        measured = results[name]["max"].rate / bare.rate
        checks.append(
            (target, f"{measured:.0%} ({results[name]['max'].rate:.0f} / {bare.rate:.0f} req/s)", measured >= share)
        )
    for name, limit in LATENCY_TARGETS.items():
        if name not in results or not rates:
            continue
        # The latency targets hold at half the bare baseline's maximum, the first (default: only) fixed rate.
        rate, figures = rates[0], results[name]
        target = f"{name} p99 < {limit:g} ms at {rate}/s"
        if rate not in figures["fixed"]:
            checks.append((target, f"cannot sustain {rate}/s (maximum {figures['max'].rate:.0f} req/s)", False))
            continue
        fixed = figures["fixed"][rate]
        rounds = " / ".join(f"{p99:.1f}" for p99 in fixed.detail.get("p99_rounds", []))
        measured = f"p99 {fixed.p99_ms:.1f} ms (p50 {fixed.p50_ms:.1f} ms; rounds' p99 {rounds})"
        checks.append((target, measured, fixed.p99_ms < limit))
    errors = sum(
        figures["max"].errors + sum(result.errors for result in figures["fixed"].values())
        for figures in results.values()
    )
    checks.append(("0 errors (non-2xx, connection errors, timeouts, replays)", f"{errors} errors", errors == 0))
    return checks


def print_targets(checks: list[tuple[str, str, bool]]) -> None:
    width = max(len(target) for target, _, _ in checks)
    print(f"{'target (issue 14, against the bare baseline of this run)':{width}} | result | measured")
    for target, measured, passed in checks:
        print(f"{target:{width}} | {'PASS' if passed else 'FAIL':6} | {measured}")
    print()


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
    # The bare baseline's own table, created by its own settings on the same database.
    subprocess.run(
        [common.PYTHON, "-m", "django", "migrate", "--noinput", "-v", "0", "--settings", BARE_SETTINGS],
        cwd=common.ROOT,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": BARE_SETTINGS},
        check=True,
    )
    facts = {"machine": common.machine(), "postgres": durability(), "load_before": f"{os.getloadavg()[0]:.1f}"}
    if facts["postgres"]["synchronous_commit"] != "on" or facts["postgres"]["fsync"] != "on":
        print("warning: PostgreSQL commits are not durable here; the figures are not comparable", flush=True)
    size = pool_size(args)
    print(f"seeding {2 * size} calls and signing the requests ...", flush=True)
    seeded = scenarios.seed(status_calls=size * 2, gather_calls=size)
    pools = build_pools(args, seeded, args.port)
    log_path = Path("/tmp") / f"{args.database}-gunicorn.log"
    bare_env = env | {"DJANGO_SETTINGS_MODULE": BARE_SETTINGS, "GUNICORN_BIND": f"{common.HOST}:{args.port + 1}"}
    bare_log = Path("/tmp") / f"{args.database}-bare-gunicorn.log"
    try:
        with (
            common.Server(env, port=args.port, log_path=log_path) as server,
            common.Server(bare_env, port=args.port + 1, log_path=bare_log, app=BARE_APP) as bare_server,
        ):
            facts["workers"] = len(server.worker_pids())
            print(f"gunicorn up at {server.url} with {facts['workers']} workers (log: {log_path})", flush=True)
            print(f"bare baseline up at {bare_server.url} (log: {bare_log})", flush=True)
            results = measure(args, pools, [server, bare_server])
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
