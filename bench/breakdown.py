"""Where one webhook request's time goes: `make bench-breakdown` (`.venv/bin/python -m bench.breakdown`).

Serves the bench's own distinct, signed requests (bench/scenarios.py) in this process, straight into the project's
WSGI application on its own PostgreSQL database (production settings, durable commits), so no network, gunicorn or
load generator time is counted. Two passes per scenario:
1. unprofiled: the wall-clock time per request;
2. under cProfile: each function's own time (never counted twice), summed by the group its module belongs to,
   then scaled to the unprofiled time (cProfile slows small Python functions more than C calls, so the shares are
   an estimate; the totals are measured).

The groups answer "what would a faster webhook have to remove": the SQL round trips themselves, the COMMIT, the
ORM building the same fixed-shape statements every time, Django's handler and URL resolver, the middleware, the
form parse, the signature/log/TwiML, and our own code.
"""

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import time
from collections import defaultdict

from . import common

# (group, test on a cProfile (filename, line, function) key); the first match wins. Order matters: specific first.
GROUPS: list[tuple[str, callable]] = [
    (
        "COMMIT (explicit; an autocommit INSERT commits inside its round trip)",
        lambda f, n: f == "~" and "commit" in n and "psycopg2" in n,
    ),
    ("SQL round trips and PostgreSQL work", lambda f, n: f == "~" and "psycopg2" in n),
    ("ORM building statements (compiler, models, fields)", lambda f, n: "/django/db/" in f),
    (
        "form parse and parameter lookup",
        lambda f, n: (
            "/django/http/multipartparser" in f
            or ("/django/http/request.py" in f and ("QueryDict" in n or "_load_post" in n or "POST" in n))
            or "/urllib/parse" in f
            or f.endswith("webhooks/http.py")
        ),
    ),
    (
        "middleware",
        lambda f, n: (
            "/django/middleware/" in f
            or "/django/contrib/sessions/" in f
            or "/django/contrib/auth/middleware" in f
            or "/django/contrib/messages/" in f
            or "/whitenoise/" in f
            or "/voice_project/" in f
        ),
    ),
    (
        "Django handler and URL resolve",
        lambda f, n: (
            "/django/core/handlers/" in f
            or "/django/urls/" in f
            or "/django/http/" in f
            or "/django/dispatch/" in f
            or "/django/utils/" in f
        ),
    ),
    (
        "signature, log line, TwiML",
        lambda f, n: (
            "/twilio/" in f
            or "/logging/" in f
            or "/xml/" in f
            or "/json/" in f
            or (f == "~" and any(word in n for word in ("hmac", "sha1", "sha256", "digest", "b64encode", "write")))
        ),
    ),
    ("our code (voiceconfig, voicetwilio)", lambda f, n: "/voiceconfig/" in f or "/voicetwilio/" in f),
]
OTHER = "other (Python runtime, builtins)"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario and pass (default 2000)")
    parser.add_argument("--scenarios", default="status,incoming,gather")
    parser.add_argument("--database", default="voice_breakdown")
    parser.add_argument("--port", type=int, default=8600, help="the port the signed URLs name (nothing listens)")
    return parser.parse_args(argv)


def wsgi_environ(raw: bytes) -> dict:
    """A WSGI environ for one raw HTTP request, as gunicorn would build it."""
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    path, _, query = target.partition("?")
    headers = dict(line.split(": ", 1) for line in header_lines)
    host, _, port = headers.pop("Host").partition(":")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": port or "80",
        "HTTP_HOST": f"{host}:{port}" if port else host,
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    return environ


def serve(application, requests: list[bytes]) -> float:
    """Serve every request; the seconds it took. A non-2xx answer stops the run: the figures would be wrong."""
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    started = time.perf_counter()
    for raw in requests:
        for _ in application(wsgi_environ(raw), start_response):
            pass
        if not statuses[-1].startswith("2"):
            raise SystemExit(f"a request was answered {statuses[-1]}: {raw[:120]!r}")
    return time.perf_counter() - started


def backend_cpu_seconds() -> float:
    """CPU time (user + system) of this process's PostgreSQL backend so far, read from /proc (same machine)."""
    from pathlib import Path

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    # Fields after the command name: state is the first, utime the 12th and stime the 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(application, requests: list[bytes]) -> tuple[float, float, float]:
    """(wall, app CPU, PostgreSQL backend CPU) seconds per request. CPU is what a loaded 2-core machine runs
    out of: unlike the wall time it hardly moves with other work on the machine, so it compares runs."""
    backend, app = backend_cpu_seconds(), time.process_time()
    wall = serve(application, requests)
    app, backend = time.process_time() - app, backend_cpu_seconds() - backend
    return wall / len(requests), app / len(requests), backend / len(requests)


def group_of(key: tuple) -> str:
    filename, _, name = key
    for group, matches in GROUPS:
        if matches(filename, name):
            return group
    return OTHER


def profiled_shares(application, requests: list[bytes]) -> dict[str, float]:
    profiler = cProfile.Profile()
    profiler.enable()
    serve(application, requests)
    profiler.disable()
    own: dict[str, float] = defaultdict(float)
    for key, (_, _, tottime, _, _) in pstats.Stats(profiler).stats.items():
        own[group_of(key)] += tottime
    total = sum(own.values())
    return {group: seconds / total for group, seconds in own.items()}


def logging_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    return [h for logger in loggers for h in getattr(logger, "handlers", []) if isinstance(h, logging.StreamHandler)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = common.environment(database=args.database, port=args.port, DJANGO_LOG_LEVEL="INFO")
    common.configure(env)
    from django.core.wsgi import get_wsgi_application

    from . import scenarios

    common.recreate_database(args.database)
    count = args.requests
    seeded = scenarios.seed(status_calls=3 * count, gather_calls=3 * count)
    builders = {
        "status": lambda n: scenarios.status_requests(args.port, seeded.status_sids[n * count : (n + 1) * count]),
        "incoming": lambda n: scenarios.incoming_requests(args.port, count),
        "gather": lambda n: scenarios.gather_requests(args.port, seeded.gather_sids[n * count : (n + 1) * count]),
    }
    application = get_wsgi_application()
    # The application logs one line per request, as in production: formatted and written (that is part of the
    # cost), but to /dev/null instead of this report.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    for handler in logging_handlers():
        handler.setStream(devnull)
    figures, cpu = {}, {}
    try:
        for name in args.scenarios.split(","):
            serve(application, builders[name](0)[:200])  # warm up: imports, connection, caches
            per_request, app_cpu, db_cpu = measured(application, builders[name](1))
            cpu[name] = (app_cpu, db_cpu)
            figures[name] = (per_request, profiled_shares(application, builders[name](2)))
    finally:
        devnull.close()
        common.drop_database(args.database)
    print(f"\nIn-process, {count} distinct requests per scenario and pass, PostgreSQL on loopback, durable commits.")
    print("ms per request (share), each group's own time from cProfile scaled to the unprofiled wall time:\n")
    groups = [group for group, _ in GROUPS] + [OTHER]
    names = list(figures)
    print(f"| {'':60} | " + " | ".join(f"{name:>16}" for name in names) + " |")
    print(f"|{'-' * 62}|" + "|".join("-" * 18 for _ in names) + "|")
    for group in groups:
        cells = [
            f"{figures[n][0] * 1000 * figures[n][1].get(group, 0):.2f} ms ({figures[n][1].get(group, 0):4.0%})"
            for n in names
        ]
        print(f"| {group:60} | " + " | ".join(f"{cell:>16}" for cell in cells) + " |")
    print(
        f"| {'total (measured, unprofiled)':60} | "
        + " | ".join(f"{figures[n][0] * 1000:13.2f} ms" for n in names)
        + " |"
    )
    for label, index in (
        ("CPU per request: the application (process time)", 0),
        ("CPU per request: its PostgreSQL backend", 1),
    ):
        print(f"| {label:60} | " + " | ".join(f"{cpu[n][index] * 1000:13.2f} ms" for n in names) + " |")
    print(f"| {'CPU per request: both':60} | " + " | ".join(f"{sum(cpu[n]) * 1000:13.2f} ms" for n in names) + " |")
    print(f"\nLoad average while measuring: {os.getloadavg()[0]:.1f} (2 cores).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
