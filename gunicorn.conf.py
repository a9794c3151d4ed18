"""Production defaults for gunicorn: `gunicorn voice_project.wsgi` picks this file up from the working directory.

Every value can be overridden by an environment variable (GUNICORN_*), so one image serves any host size.
Why these values:
- Workers: the web tier is stateless and each request waits on PostgreSQL (a durable commit per webhook),
  so more processes than cores keep the CPUs busy while others wait: (2 x cores) + 1, gunicorn's own advice.
- Timeout 10 s: Twilio gives a webhook 15 s before it plays "an application error has occurred". A worker
  stuck longer than 10 s is killed and replaced so that Twilio's retry (or the next call) finds a live one;
  the request it was serving rolls back in PostgreSQL.
- Graceful timeout 10 s: on a deploy or restart, in-flight requests get time to finish before the old
  worker is killed.
- max_requests with jitter: workers are recycled now and then so slow leaks cannot grow forever, and the
  jitter keeps them from all restarting at the same moment.
- preload_app: the code is imported once in the master, so a broken deploy fails before any worker
  starts and workers fork with the code already loaded (faster respawn after a crash).
- Logs go to stderr. The application logs one structured line per request with the CallSid
  (voice_project.logging_context), so gunicorn's own access log is off by default; set
  GUNICORN_ACCESS_LOG=- to get it too, in the key=value format below.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


wsgi_app = "voice_project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = _int("GUNICORN_THREADS", 1)
# Enough for a burst of Twilio callbacks to wait for a worker instead of being refused.
backlog = _int("GUNICORN_BACKLOG", 2048)

timeout = _int("GUNICORN_TIMEOUT", 10)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 10)
# Only used by worker classes that keep connections open (gthread); a load balancer in front reuses them.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

max_requests = _int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 1000)

preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in {"0", "false", "no", "off"}

# Refuse absurd request lines and headers before Django sees them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# TLS ends at the proxy in front; trust its X-Forwarded-* headers only from the addresses listed here.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# The path only (%(U)s), never the query string (%(q)s) or request line (%(r)s): the spec's GET form of the
# two-factor step carries the code and the preLoginToken in the query.
access_log_format = (
    'remote=%(h)s method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s duration_ms=%(M)s '
    'request_id="%({x-request-id}i)s" twilio="%({i-twilio-idempotency-token}i)s" pid=%(p)s'
)
proc_name = "voice"

# gunicorn's own lines (worker boots, timeouts, crashes; the access log when on) in the same JSON-lines format as
# the application's, so one log pipeline reads both; GUNICORN_LOG_FORMAT=text keeps gunicorn's plain format.
if os.environ.get("GUNICORN_LOG_FORMAT", "json") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "voice_project.logging_context.JsonFormatter"}},
        "filters": {"secret_query": {"()": "voice_project.logging_context.SecretQueryFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
                "filters": ["secret_query"],
            }
        },
        # Django's LOGGING takes the root logger over once the app is loaded.
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
            # With a logging config gunicorn always emits access lines; INFO only when the access log is asked for.
            "gunicorn.access": {
                "handlers": ["stderr"],
                "level": "INFO" if accesslog else "WARNING",
                "propagate": False,
            },
        },
    }

# gunicorn's runtime control socket (gunicornc) is off unless a path is given: one fixed default path would be
# shared by every instance on the host, and nothing here needs runtime management beyond signals.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
