"""Settings of the bare baseline: only what Django needs to serve one view on the bench database."""

import environ

env = environ.Env()

SECRET_KEY = "bench-bare-baseline-not-for-production-0c4f9a2e7b1d"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["bench.bare"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.urls"
WSGI_APPLICATION = "bench.bare.wsgi.application"
DATABASES = {"default": env.db("DATABASE_URL")}
# Persistent connections, as the project has them: the baseline must not pay a connection per request.
DATABASES["default"]["CONN_MAX_AGE"] = 60
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# No logging configuration at all: the baseline writes no log line per request.
LOGGING_CONFIG = None
