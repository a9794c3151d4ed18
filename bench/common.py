"""What the bench, the soak and the API fuzz share: a production-like environment, its own PostgreSQL
database, gunicorn started with the project's gunicorn.conf.py, and Twilio's request signing.

Import order matters: `configure()` sets the environment and then sets Django up in this process too, so the
harness seeds and counts rows with the ORM against the same database the server uses.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
HOST = "127.0.0.1"


def environment(*, database: str, port: int, **extra: str) -> dict[str, str]:
    """Production settings (DEBUG off, JSON logs) on a bench database; Twilio's REST API points nowhere."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "TWILIO_", "PYTEST"))}
    env.update(
        DATABASE_URL=f"{PG_URL}/{database}",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-secret-key-not-for-production-7f3a9c1e5b2d8f4a6c0e9b7d5a3f1c8e",
        DJANGO_ALLOWED_HOSTS=f"{HOST},localhost",
        DJANGO_SETTINGS_MODULE="voice_project.settings",
        TWILIO_ACCOUNT_SID="AC" + "b" * 32,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_KEY_SID="SK" + "b" * 32,
        TWILIO_API_KEY_SECRET="bench-api-key-secret",
        TWILIO_TWIML_APP_SID="AP" + "b" * 32,
        # Nothing listens there: any Twilio REST call a webhook makes fails fast instead of leaving the machine.
        TWILIO_API_BASE_URL=f"http://{HOST}:9",
        TWILIO_HTTP_TIMEOUT="1",
        TWILIO_WEBHOOK_BASE_URL=f"http://{HOST}:{port}",
        # Saving a line would ask Twilio to point the number at us (docs/provisioning.md); Twilio points nowhere here.
        TWILIO_PROVISIONING="0",
        GUNICORN_BIND=f"{HOST}:{port}",
        # The REST list is measured, not the per-user throttle.
        API_THROTTLE_USER="100000000/min",
        API_THROTTLE_ANON="100000000/min",
    )
    env.update(extra)
    return env


def configure(env: dict[str, str]) -> None:
    """Use `env` in this process and set Django up on it."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    stop_on_sigterm()
    import django

    django.setup()


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `with Server(...)` and `finally:` still stop gunicorn and drop the database."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def recreate_database(name: str) -> None:
    """Drop and create `name`, then migrate it: every run starts from the same empty schema."""
    psql = ["psql", PG_URL + "/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c"]
    subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)
    subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=os.environ.copy(), check=True
    )


def drop_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    subprocess.run(
        ["psql", PG_URL + "/postgres", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False
    )


class Server:
    """gunicorn with the project's gunicorn.conf.py, logs to a file; stopped (and waited for) on exit."""

    def __init__(self, env: dict[str, str], *, port: int, log_path: Path, app: str = ""):
        self.env, self.port, self.log_path = env, port, log_path
        # The WSGI callable to serve instead of the project's (the bare baseline's), under the same settings file.
        self.app = app
        self.process: subprocess.Popen | None = None
        self.expected_workers = int(env.get("GUNICORN_WORKERS") or (os.cpu_count() or 1) * 2 + 1)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> "Server":
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        # BENCH_WSGI_APP (module:callable on PYTHONPATH) serves a variant, e.g. one that patches in a candidate
        # optimisation, under the same settings, to measure it before anyone edits the code.
        app = self.app or self.env.get("BENCH_WSGI_APP", "")
        variant = [app] if app else []
        self.process = subprocess.Popen(
            [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), *variant],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                    if answer.status == 200 and len(self.worker_pids()) >= self.expected_workers:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The current workers: processes whose parent is the gunicorn master (read from /proc)."""
        assert self.process is not None
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # Fields after the command name (which may hold spaces) start with state, then the parent pid.
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def __exit__(self, *exc_info) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def twilio_signature(url: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(AUTH_TOKEN).compute_signature(url, params)


def signed_form_request(*, port: int, path: str, params: dict[str, str]) -> bytes:
    """A POST exactly as Twilio sends it: urlencoded form, X-Twilio-Signature over the public URL and the fields."""
    from .loadgen import raw_request

    url = f"http://{HOST}:{port}{path}"
    return raw_request(
        host=f"{HOST}:{port}",
        method="POST",
        path=path,
        body=urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params),
            # Twilio sends one per webhook request, the same on each retry of it.
            "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
            "Accept": "*/*",
        },
    )


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores, {model}"
