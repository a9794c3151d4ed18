"""Run the app under gunicorn on a free port, pointed at an emulator (simulate_call, make demo, tests/e2e)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port(first: int = 0, last: int = 0, *, exclude: tuple[int, ...] = ()) -> int:
    """A port nobody listens on: any (first=0), or the first free one in [first, last] not in `exclude`."""
    candidates = [port for port in range(first, last + 1) if port not in exclude] if first else [0]
    for port in candidates:
        with socket.socket() as sock:
            # As the servers themselves bind: a port whose old connections linger in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in {first}-{last}")


class AppServer:
    def __init__(self, *, port: int, env: dict[str, str], log_path: Path, workers: int = 2, threads: int = 4):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TWILIO_WEBHOOK_BASE_URL": "",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_WORKER_CLASS": "gthread",
            "GUNICORN_TIMEOUT": "30",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "AppServer":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so stop() ends the master and every worker it forked.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            # SIGQUIT: gunicorn's quick shutdown (nothing here needs its graceful wait for keep-alive clients).
            os.killpg(self.process.pid, signal.SIGQUIT)
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass


def run_manage(*args: str, env: dict[str, str]) -> None:
    """`manage.py <args>` in a subprocess with `env` (migrate and load the demo data into a database)."""
    subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_DEBUG": "1", **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def manage_output(*args: str, env: dict[str, str]) -> str:
    """`manage.py <args>` in a subprocess with `env`, as a scheduler runs it; its output (stdout and stderr)."""
    done = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return (done.stdout + done.stderr).strip() + ("" if done.returncode == 0 else f" (exit {done.returncode})")
