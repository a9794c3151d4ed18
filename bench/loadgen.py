"""Loopback load generators: wrk for maximum throughput, an open-loop asyncio sender for fixed rates.

Both send pre-built raw HTTP requests, every one different (unique CallSids, each with its own
X-Twilio-Signature), so no request takes a cheaper duplicate path.

- `max_throughput` runs wrk (C, closed loop: N connections each sending as fast as answers come back), so the
  client takes little of the 2 cores from the server. It reports requests per second and latency percentiles.
- `fixed_rate` is open loop: request i is due at start + i / rate whatever happened to earlier ones, and its
  latency counts from when it was due, so a server that falls behind shows it in p99 (no coordinated omission).
- `send_with_retry` is the soak's sender: it retries on connection errors as Twilio does, not on answers.
"""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

WRK_SCRIPT = Path(__file__).with_name("distinct_requests.lua")
# Twilio gives up on a webhook after 15 s.
REQUEST_TIMEOUT_SECONDS = 15.0


def raw_request(
    *, host: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: TwilioProxy/1.1 (voice bench)"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's archive when missing (the bench runs as root on these machines)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: run `sudo apt-get install wrk` (the bench installs it when root)")
    print("installing wrk with apt-get ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


@dataclass
class Result:
    """One measured run. Latencies in milliseconds."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # Requests taken from the pool (sent, answered or not): the caller moves its cursor past them.
    consumed: int = 0
    target_rate: float | None = None
    detail: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def max_throughput(
    requests: list[bytes], *, url: str, seconds: float, connections: int = 16, threads: int = 2
) -> Result:
    """Closed-loop saturation with wrk; `requests` must hold more than the run can send (else it is an error)."""
    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("wb", suffix=".req", delete=False) as handle:
        for raw in requests:
            handle.write(f"{len(raw)}\n".encode() + raw)
        path = handle.name
    try:
        completed = subprocess.run(
            [
                wrk,
                f"--threads={threads}",
                f"--connections={connections}",
                f"--duration={max(1, round(seconds))}s",
                f"--timeout={int(REQUEST_TIMEOUT_SECONDS)}s",
                "--script",
                str(WRK_SCRIPT),
                url,
                "--",
                path,
                str(threads),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
    finally:
        os.unlink(path)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("WRK_RESULT "))
    errors = sum(data[key] for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    if data["wrapped"]:
        # The pool was too small and requests were replayed: the figure would not be honest.
        errors += data["wrapped"]
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        consumed=data["per_thread_max"] * threads,
        detail=data,
    )


def combine(results: list[Result]) -> Result:
    """Several rounds of one scenario as one figure: total requests over total time; median p50, worst p99."""
    p50s = sorted(result.p50_ms for result in results)
    return Result(
        requests=sum(result.requests for result in results),
        seconds=sum(result.seconds for result in results),
        errors=sum(result.errors for result in results),
        p50_ms=p50s[len(p50s) // 2],
        p90_ms=max(result.p90_ms for result in results),
        p99_ms=max(result.p99_ms for result in results),
        max_ms=max(result.max_ms for result in results),
        consumed=sum(result.consumed for result in results),
        detail={"rounds": [round(result.rate, 1) for result in results]},
    )


def combine_fixed(results: list[Result]) -> Result:
    """Interleaved fixed-rate rounds of one scenario as one figure: the median round's p50 and p99 (a burst of
    other work on the machine sinks one round, not the figure; every round's p99 stays in `detail`), the worst
    max, every error."""

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return Result(
        requests=sum(result.requests for result in results),
        seconds=sum(result.seconds for result in results),
        errors=sum(result.errors for result in results),
        p50_ms=median([result.p50_ms for result in results]),
        p90_ms=median([result.p90_ms for result in results]),
        p99_ms=median([result.p99_ms for result in results]),
        max_ms=max(result.max_ms for result in results),
        consumed=sum(result.consumed for result in results),
        target_rate=results[0].target_rate,
        detail={
            "p99_rounds": [round(result.p99_ms, 1) for result in results],
            "errors": {k: v for result in results for k, v in result.detail.get("errors", {}).items()},
        },
    )


async def _exchange(host: str, port: int, raw: bytes, timeout: float) -> tuple[int, bytes]:
    """Send one request on a fresh connection, read the whole answer; (status, body)."""

    async def go() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(raw)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for header in head.split(b"\r\n")[1:]:
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            return status, body
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def _summary(latencies: list[float], *, requests: int, seconds: float, errors: int, **extra) -> Result:
    latencies.sort()
    return Result(
        requests=requests,
        seconds=seconds,
        errors=errors,
        p50_ms=_percentile(latencies, 50),
        p90_ms=_percentile(latencies, 90),
        p99_ms=_percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else 0.0,
        **extra,
    )


def stolen_cpu_ms() -> float | None:
    """CPU time the hypervisor gave to other guests instead of this machine so far (all cores; /proc/stat's
    `steal`), in ms; None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    return int(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else None


STEAL_WINDOW_SECONDS = 0.1


async def _watch_steal(found: dict) -> None:
    """Sample stolen CPU every 100 ms while a fixed-rate run lasts: its total and its worst 100 ms. On a shared VM
    a burst of it stalls every process at once (server, database and this load generator), which shows in a
    round's p99 whatever the code does; the report prints it beside each round."""
    last = stolen_cpu_ms()
    if last is None:
        return
    while True:
        await asyncio.sleep(STEAL_WINDOW_SECONDS)
        now_ms = stolen_cpu_ms()
        found["steal_ms"] = found.get("steal_ms", 0.0) + now_ms - last
        found["steal_peak_ms"] = max(found.get("steal_peak_ms", 0.0), now_ms - last)
        last = now_ms


async def _fixed_rate(requests: list[bytes], host: str, port: int, rate: float, seconds: float) -> Result:
    count = min(len(requests), int(rate * seconds))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    steal: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(index: int) -> None:
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            status, _ = await _exchange(host, port, requests[index], REQUEST_TIMEOUT_SECONDS)
            if status >= 400:
                errors[f"http {status}"] = errors.get(f"http {status}", 0) + 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        latencies.append((loop.time() - due) * 1000)

    watcher = asyncio.ensure_future(_watch_steal(steal))
    await asyncio.gather(*(one(i) for i in range(count)))
    watcher.cancel()
    elapsed = loop.time() - start
    return _summary(
        latencies,
        requests=count,
        seconds=elapsed,
        errors=sum(errors.values()),
        consumed=count,
        target_rate=rate,
        detail={"errors": errors, **{name: round(value) for name, value in steal.items()}},
    )


def fixed_rate(requests: list[bytes], *, host: str, port: int, rate: float, seconds: float) -> Result:
    """Open-loop: send `rate` requests per second for `seconds`, each on its own connection."""
    if len(requests) < int(rate * seconds):
        raise ValueError(f"need {int(rate * seconds)} distinct requests, have {len(requests)}")
    return asyncio.run(_fixed_rate(requests, host, port, rate, seconds))


@dataclass
class RetryStats:
    sent: int = 0
    attempts: int = 0
    retries: int = 0
    failures: dict = field(default_factory=dict)
    latencies: list = field(default_factory=list)


async def send_with_retry(
    raw: bytes,
    *,
    host: str,
    port: int,
    stats: RetryStats,
    max_attempts: int = 20,
    backoff: float = 0.05,
    before_retry: Callable[[], Awaitable[None]] | None = None,
) -> int | None:
    """Send until the server answers; connection errors and timeouts are retried (as Twilio retries them).

    An HTTP answer of any status is final (Twilio does not retry a 5xx by default); the status is returned.
    None means every attempt failed to connect or to get an answer. `before_retry` runs before each retry.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    stats.sent += 1
    for attempt in range(max_attempts):
        stats.attempts += 1
        try:
            status, _ = await _exchange(host, port, raw, REQUEST_TIMEOUT_SECONDS)
            stats.latencies.append((loop.time() - started) * 1000)
            return status
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            stats.retries += 1
            name = type(exc).__name__
            stats.failures[name] = stats.failures.get(name, 0) + 1
            await asyncio.sleep(backoff * (attempt + 1))
            if before_retry is not None:
                await before_retry()
    return None


def now() -> float:
    return time.perf_counter()
