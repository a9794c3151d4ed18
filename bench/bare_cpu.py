"""CPU per request of the bare baseline, measured as `make bench-breakdown` measures the webhooks (bench/README.md).

`.venv/bin/python -m bench.bare_cpu`: serves the bare baseline's requests (bench/bare, its own settings) in this
process on its own database, and prints the wall time and the CPU time per request of this process and of its
PostgreSQL backend, twice; it also shows that the baseline commits durably (its connection's synchronous_commit,
rows inserted and transactions committed).
"""

import argparse
import os
import subprocess
import sys
import time

from . import common


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per pass (default 1000)")
    parser.add_argument("--database", default="voice_bench")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    project = common.environment(database=args.database, port=8600)
    env = project | {"DJANGO_SETTINGS_MODULE": "bench.bare.settings"}
    # The project's schema (the call table the baseline reads), then the baseline's own table.
    os.environ.update(project)
    common.recreate_database(args.database)
    os.environ.update(env)
    subprocess.run([common.PYTHON, "-m", "django", "migrate", "-v0"], cwd=common.ROOT, env=os.environ, check=True)
    common.configure(env)
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    from . import breakdown, scenarios

    def facts() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            commits = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM bench_bare_event")
            return commits, cursor.fetchone()[0]

    application = get_wsgi_application()
    count = args.requests
    sids = [f"CA{n:032x}" for n in range(1, 2 * count + 201)]
    requests = scenarios.baseline_requests(8600, "/bench/bare", sids)
    try:
        breakdown.serve(application, requests[:200])
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            print(f"bare baseline's connection: synchronous_commit = {cursor.fetchone()[0]}")
        commits, rows = facts()
        for n in range(2):
            wall, app, backend = breakdown.measured(application, requests[200 + n * count : 200 + (n + 1) * count])
            print(
                f"bare baseline: wall {wall * 1000:.2f} ms, CPU {app * 1000:.2f} ms (application) + "
                f"{backend * 1000:.2f} ms (PostgreSQL) = {(app + backend) * 1000:.2f} ms per request"
            )
        time.sleep(1)  # PostgreSQL publishes its transaction counters within a second
        after_commits, after_rows = facts()
        print(
            f"{2 * count} requests: {after_rows - rows} rows inserted, at least {after_commits - commits} "
            f"transactions committed; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        common.drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
