"""Settings, read from the environment (12-factor, django-environ).

Every value a deployment sets is an environment variable listed in README.md. A bad value stops
start-up with an ImproperlyConfigured error that names the variable, so a typo fails loudly at boot
instead of as odd behaviour on the first call.
"""

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def env_checked(name: str, default: Any, parse: Callable[[str], Any], what: str) -> Any:
    """Read NAME with a parser; any parse error names the variable and what it should be."""
    raw = env.str(name, default=None)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name} must be {what}, got {raw!r} ({exc})") from exc


def _sid(prefix: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", raw):
            raise ValueError(f"expected {prefix} followed by 32 hex digits")
        return raw

    return parse


def _url(raw: str) -> str:
    if not re.match(r"^https?://[^/\s]+", raw):
        raise ValueError("expected an http(s) URL")
    return raw.rstrip("/")


def _between(low: float, high: float, cast: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        value = cast(raw)
        if not low <= value <= high:
            raise ValueError(f"out of range {low:g}..{high:g}")
        return value

    return parse


def _rate(raw: str) -> str:
    # DRF's own format: requests/period, the period being s, sec, m, min, h, hour, d or day.
    if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", raw.strip()):
        raise ValueError("expected requests/period such as 60/min")
    return raw.strip()


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


# The project runs on PostgreSQL, and on SQLite for development; anything else is a typo.
SUPPORTED_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}
# Django's SQLite backend that switches the file to WAL even when two processes open it at once
# (voice_project/sqlite3/base.py).
SQLITE_ENGINE = "voice_project.sqlite3"


def _database(raw: str) -> dict:
    config = env.db_url_config(raw)
    if config.get("ENGINE") not in SUPPORTED_DATABASE_ENGINES:
        raise ValueError("expected a postgres:// or sqlite:/// URL")
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend whose connection health check needs no round trip (voice_project/postgresql/base.py).
        config["ENGINE"] = "voice_project.postgresql"
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["ENGINE"] = SQLITE_ENGINE
    return config


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off (set DJANGO_DEBUG=1 for local development)"
        )
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
ALLOWED_HOSTS = env_checked(
    "DJANGO_ALLOWED_HOSTS",
    ["127.0.0.1", "localhost", "testserver"] if DEBUG else [],
    lambda raw: [h.strip() for h in raw.split(",") if h.strip()],
    "a comma-separated host list",
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    # Swagger UI and Redoc served from our own static files: /api/docs/ works offline and loads nothing from a CDN.
    "drf_spectacular_sidecar",
    "voiceconfig",
    "voicetwilio",
    # Management commands only (twilio_emulator, simulate_call): a local Twilio for development and tests.
    "twilio_emulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every answer (voice_project/csp.py; the policy is below).
    "voice_project.csp.VoiceCSPMiddleware",
    # Any 5xx (DEBUG on or off): the JSON envelope, or TwiML on Twilio's webhooks; never Django's HTML debug page.
    "voice_project.server_errors.ServerErrorMiddleware",
    # Serves /static/ from gunicorn too (the admin's assets, the agent console and its softphone bundle), with
    # far-future caching for hashed names; in DEBUG it reads the source folders, so no collectstatic is needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # JSON error envelope for answers Django gives outside any API view (unknown URL, oversized body).
    "voiceconfig.api.middleware.JsonErrorMiddleware",
    # Binds the request id and the CallSid to every log line of the request (voice_project/logging_context.py).
    "voice_project.logging_context.CallContextMiddleware",
    # Twilio's webhooks stop here: the view is called without the session/auth/messages/CSRF middleware below,
    # which a signed request from Twilio never needs (voicetwilio/webhooks/shortcut.py, issue 14).
    "voicetwilio.webhooks.shortcut.WebhookShortcutMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A session of a user with two-factor login on counts only once the code was given in it (admin login, API).
    "voiceconfig.staff_twofactor.TwoFactorSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "voice_project.urls"
# The specification's paths have no trailing slash; never redirect POSTs to a slashed URL.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "voice_project.wsgi.application"

DATABASES = {
    "default": env_checked(
        "DATABASE_URL",
        {"ENGINE": SQLITE_ENGINE, "NAME": str(BASE_DIR / "db.sqlite3")},
        _database,
        "a database URL such as postgres://user@127.0.0.1:5432/voice or sqlite:///path/db.sqlite3",
    )
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env_checked("DJANGO_CONN_MAX_AGE", 60, int, "seconds"))
# A persistent connection can die between requests (database restart, fail-over, a proxy's idle timeout): check it
# before the request's first query and reconnect, or that query fails and the webhook must be refused.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# SQLite is the default for one machine (`make run`): the dev server, the emulator's callbacks and the console all
# write at once during a live call. Its defaults make that fail with "database is locked" (a deferred transaction
# that reads first cannot upgrade to a write lock while another connection writes, and gives up at once), so:
# - transaction_mode IMMEDIATE: every atomic block takes the write lock when it starts, so it waits instead of
#   failing half-way;
# - WAL journal: readers never block the writer nor the writer the readers (synchronous=NORMAL is WAL's safe mode);
# - timeout: how long a writer waits for the lock (seconds) before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = env_checked("DJANGO_SQLITE_TIMEOUT", 20, _non_negative_int, "seconds")
if DATABASES["default"]["ENGINE"] == SQLITE_ENGINE:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            # The journal mode is switched to WAL by the backend itself (voice_project/sqlite3/base.py).
            "init_command": "PRAGMA synchronous=NORMAL",
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# static/: the admin's and the agent console's own CSS and JS, and static/vendor/ (built by `make console-assets`:
# the Twilio Voice JS SDK and its sounds, served from here rather than a CDN).
STATICFILES_DIRS = [BASE_DIR / "static"]
# The softphone's sounds are WAV files; WhiteNoise's own table does not name the type.
WHITENOISE_MIMETYPES = {".wav": "audio/wav"}

# --- Security behind a TLS-terminating proxy -------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
# X-Forwarded-Proto is believed only from the proxies in GUNICORN_FORWARDED_ALLOW_IPS: gunicorn reads it from those
# alone and sets the WSGI scheme, which Django's request.is_secure() uses when SECURE_PROXY_SSL_HEADER is None.
# Naming the header here would make Django believe it from any client (a plain-HTTP request saying "https" would
# pass a signature made for https:// and get HSTS). DJANGO_TRUST_X_FORWARDED_PROTO=1 is only for a server that
# strips the header from untrusted clients itself; `manage.py check --deploy` warns while it is on.
TRUST_X_FORWARDED_PROTO = env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUST_X_FORWARDED_PROTO else None
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# HSTS is sent only on requests that arrived over HTTPS (as a trusted proxy's X-Forwarded-Proto says), so it is safe
# behind a TLS-terminating proxy. Off in development, a year in production unless DJANGO_SECURE_HSTS_SECONDS says.
SECURE_HSTS_SECONDS = env_checked("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, int, "seconds")
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# `manage.py check --deploy` is clean with production settings except for these, each deliberate:
SILENCED_SYSTEM_CHECKS = []
if not SECURE_SSL_REDIRECT:
    # security.W008: TLS ends at the proxy in front, which redirects plain HTTP; redirecting here too would turn
    # Twilio's signed webhook POSTs into GETs. DJANGO_SECURE_SSL_REDIRECT=1 turns the redirect on where wanted.
    SILENCED_SYSTEM_CHECKS.append("security.W008")
if SECURE_HSTS_SECONDS and not SECURE_HSTS_INCLUDE_SUBDOMAINS:
    # security.W005: the API's host name is usually a subdomain of the business's domain, and forcing HTTPS on
    # every sibling subdomain is the domain owner's call, not this service's. DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS=1.
    SILENCED_SYSTEM_CHECKS.append("security.W005")
if SECURE_HSTS_SECONDS and not SECURE_HSTS_PRELOAD:
    # security.W021: preloading is an irreversible, domain-wide commitment; opt in with DJANGO_SECURE_HSTS_PRELOAD=1.
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# --- Content-Security-Policy (django-csp; finding 10) ----------------------------------------
# Everything the admin, the console and the API docs load is served from this origin (static/vendor holds the
# softphone SDK and its sounds). The only other origin is Twilio's, for the softphone's signalling WebSocket and
# its call-quality reports. No inline script anywhere: the console's settings travel in a JSON data block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "wss://*.twilio.com", "https://*.twilio.com"],
        "media-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        # The JWT from the HttpOnly cookie two-factor login sets on request (`isSetCookie`); CSRF-checked.
        "voiceconfig.api.authentication.CookieJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "djangorestframework_camel_case.render.CamelCaseJSONRenderer",
        "djangorestframework_camel_case.render.CamelCaseBrowsableAPIRenderer",
    ],
    # An unknown ?format= is a 400 naming the parameter (DRF's own answer is a 404).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "voiceconfig.api.negotiation.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "voiceconfig.api.parsers.JSONParser",
        "djangorestframework_camel_case.parser.CamelCaseFormParser",
        "djangorestframework_camel_case.parser.CamelCaseMultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "voiceconfig.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's AutoSchema plus the error envelope responses every operation can give.
    "DEFAULT_SCHEMA_CLASS": "voiceconfig.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "voiceconfig.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's anon and user throttles, counted in one SQL statement per request (voiceconfig/api/throttling.py).
        "voiceconfig.api.throttling.AnonRateThrottle",
        "voiceconfig.api.throttling.UserRateThrottle",
        # Only for views that name a throttle_scope (the login); each scope needs a rate below.
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_checked("API_THROTTLE_ANON", "600/min", _rate, "a rate such as 600/min"),
        "user": env_checked("API_THROTTLE_USER", "6000/min", _rate, "a rate such as 6000/min"),
        "login": env_checked("API_THROTTLE_LOGIN", "30/min", _rate, "a rate such as 30/min"),
    },
    # How many proxies in front of us append to X-Forwarded-For; throttles count per client address, and
    # trusting a header any client can write would let one client pose as many.
    "NUM_PROXIES": env_checked("API_NUM_PROXIES", 0, _non_negative_int, "a whole number of proxies (0 or more)"),
}

# camelCase JSON both ways (decision 12). `data` holds a call event's raw payload (Twilio's own parameter
# names): it is stored and shown exactly as given, never re-cased.
JSON_CAMEL_CASE = {
    "JSON_UNDERSCOREIZE": {"no_underscore_before_number": True, "ignore_fields": ("data",), "ignore_keys": None},
}

# Throttle counters (and anything else cached) live in PostgreSQL like everything else: several processes on
# several hosts share them, and none is held in process memory (DESIGN.md, Scale). Migration
# voiceconfig.0003_api_cache_table creates the table.
CACHES = {"default": env_checked("CACHE_URL", {}, env.cache_url_config, "a cache URL such as dbcache://voice_cache")}
if not CACHES["default"]:
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "voice_cache"}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_checked("JWT_ACCESS_MINUTES", 15, int, "minutes")),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
}

SYSTEM_FONTS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
SPECTACULAR_SETTINGS = {
    "TITLE": "Voice API",
    "DESCRIPTION": "The voice channel of the customer-service platform: configuration, calls and Twilio webhooks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "CAMELIZE_NAMES": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Redoc in the system's fonts: no web font is fetched from anywhere (voice_project/api_docs.py).
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": SYSTEM_FONTS,
                "headings": {"fontFamily": SYSTEM_FONTS},
                "code": {"fontFamily": "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"},
            }
        }
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "voiceconfig.models.CallStatus",
        "AgentStatusEnum": "voiceconfig.models.AgentStatus",
        # The 2FA verify step's `error`: the specification's four strings, or a malformed request.
        "TwoFactorErrorEnum": [
            "Code verify failed",
            "Time out",
            "Number of retries exceeded",
            "Account locked",
            "validation_error",
            "bad_request",
        ],
    },
}

# --- Twilio --------------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = env_checked("TWILIO_ACCOUNT_SID", "", _sid("AC"), "an Account SID (AC + 32 hex digits)")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_API_KEY_SID = env_checked("TWILIO_API_KEY_SID", "", _sid("SK"), "an API Key SID (SK + 32 hex digits)")
TWILIO_API_KEY_SECRET = env.str("TWILIO_API_KEY_SECRET", default="")
TWILIO_TWIML_APP_SID = env_checked("TWILIO_TWIML_APP_SID", "", _sid("AP"), "a TwiML App SID (AP + 32 hex digits)")
TWILIO_API_BASE_URL = env_checked("TWILIO_API_BASE_URL", "", _url, "an http(s) URL")
TWILIO_WEBHOOK_BASE_URL = env_checked("TWILIO_WEBHOOK_BASE_URL", "", _url, "an http(s) URL")
TWILIO_HTTP_TIMEOUT = env_checked("TWILIO_HTTP_TIMEOUT", 5.0, _between(0.1, 60, float), "seconds between 0.1 and 60")
# Saving an enabled line points its number's URLs at us on Twilio; `manage.py twilio_sync` repairs drift
# (docs/provisioning.md). On by default whenever a Twilio account is configured; 0 keeps Twilio's console in charge.
TWILIO_PROVISIONING = env_bool("TWILIO_PROVISIONING", bool(TWILIO_ACCOUNT_SID))
# Lifetime of the softphone's Access Token; Twilio accepts at most 24 hours.
TWILIO_TOKEN_TTL_SECONDS = env_checked(
    "TWILIO_TOKEN_TTL_SECONDS", 3600, _between(60, 86400, int), "whole seconds between 60 and 86400"
)

# --- Voice platform behaviour ---------------------------------------------------------------
# An agent whose last heartbeat is older than this is offline and never routed to.
AGENT_HEARTBEAT_TIMEOUT_SECONDS = env_checked("AGENT_HEARTBEAT_TIMEOUT_SECONDS", 90, int, "seconds")


def _log_format(raw: str) -> str:
    if raw.strip().lower() not in {"json", "text"}:
        raise ValueError("unknown log format")
    return raw.strip().lower()


# Structured logs: one JSON object per line in production (DJANGO_LOG_FORMAT=json), key=value text in development.
# Every line written while a request about a call is served carries its CallSid (voice_project/logging_context.py).
LOG_FORMAT = env_checked("DJANGO_LOG_FORMAT", "text" if DEBUG else "json", _log_format, "json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "call_context": {"()": "voice_project.logging_context.CallContextFilter"},
        # A code or token in a URL's query string (the spec's GET form of the 2FA step) never reaches a log line.
        "secret_query": {"()": "voice_project.logging_context.SecretQueryFilter"},
    },
    "formatters": {
        "json": {"()": "voice_project.logging_context.JsonFormatter"},
        "text": {"()": "voice_project.logging_context.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["call_context", "secret_query"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own request logger repeats what voice.request already says for 4xx; keep its 5xx tracebacks.
        "django.request": {"level": "ERROR"},
        # One line per request with method, path, status, duration and CallSid; DJANGO_REQUEST_LOG_LEVEL=WARNING
        # keeps only the failures.
        "voice.request": {"level": env.str("DJANGO_REQUEST_LOG_LEVEL", default="INFO")},
        # The development server logs each request line with its query string: through our handler, so that a
        # code or token in the query is scrubbed there too.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # twilio-python logs every REST request's method, URL and headers at INFO: debugging detail, not news.
        # TWILIO_HTTP_LOG_LEVEL=INFO shows them again.
        "twilio.http_client": {"level": env.str("TWILIO_HTTP_LOG_LEVEL", default="WARNING")},
    },
}

# Benchmark-only views (bench/views.py) at /bench/: never on in production, only when the bench script sets it.
BENCH_BASELINE_VIEWS = env_bool("BENCH_BASELINE_VIEWS", False)
