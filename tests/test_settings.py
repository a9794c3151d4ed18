"""Settings come from the environment; a bad or missing required value stops start-up with a message naming it.

Each case starts `manage.py check` in a fresh process with a clean environment, as a deployment would.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-0123456789abcdefghijklmnop",
    "DJANGO_ALLOWED_HOSTS": "voice.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def settings_value(expression: str, **env: str) -> str:
    result = manage("shell", "-c", f"from django.conf import settings; print('VALUE=' + repr(({expression})))", **env)
    assert result.returncode == 0, result.stderr
    return next(line[6:] for line in result.stdout.splitlines() if line.startswith("VALUE="))


def test_a_complete_production_environment_passes_the_check(tmp_path):
    result = manage("check", DATABASE_URL=f"sqlite:///{tmp_path}/voice.sqlite3", **GOOD)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_debug_alone_is_enough_for_development():
    result = manage("check", DJANGO_DEBUG="1")

    assert result.returncode == 0, result.stderr


def test_the_default_database_is_a_sqlite_file_and_database_url_switches_to_postgresql():
    default = settings_value("settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME']", **GOOD)
    postgres = settings_value(
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME']",
        DATABASE_URL="postgres://voice:secret@db.internal:5432/voice_prod",
        **GOOD,
    )

    assert "sqlite3" in default and "db.sqlite3" in default
    # Django's PostgreSQL backend with a health check that needs no round trip (voice_project/postgresql).
    assert postgres == "('voice_project.postgresql', 'voice_prod')"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysqlish://nobody@nowhere/db"),
        ("DATABASE_URL", "not a url at all"),
        ("DJANGO_DEBUG", "maybe"),
        ("DJANGO_DEBUG", "2"),
        ("DJANGO_SECURE_SSL_REDIRECT", "sometimes"),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_ACCOUNT_SID", "SK" + "0" * 32),
        ("TWILIO_API_KEY_SID", "AC" + "0" * 32),
        ("TWILIO_TWIML_APP_SID", "APnothex" + "z" * 26),
        ("TWILIO_API_BASE_URL", "ftp://mock.local"),
        ("TWILIO_WEBHOOK_BASE_URL", "voice.example.com"),
        ("JWT_ACCESS_MINUTES", "a quarter hour"),
        ("API_THROTTLE_USER", "lots"),
        ("API_THROTTLE_LOGIN", "10/fortnight"),
        ("API_NUM_PROXIES", "-1"),
        ("CACHE_URL", "nosuchcache://x"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name, value):
    result = manage("check", **{**GOOD, name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert name in last_line, last_line


def test_a_missing_secret_key_with_debug_off_stops_start_up_naming_it():
    result = manage("check", DJANGO_DEBUG="0", DJANGO_ALLOWED_HOSTS="voice.example.com")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr.strip().splitlines()[-1]


def test_debug_off_is_the_default_so_a_forgotten_variable_fails_safe():
    result = manage("check", DJANGO_ALLOWED_HOSTS="voice.example.com")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_allowed_hosts_and_throttle_rates_are_read_from_the_environment():
    value = settings_value(
        "settings.ALLOWED_HOSTS, settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['user'], "
        "settings.REST_FRAMEWORK['NUM_PROXIES'], settings.SIMPLE_JWT['ACCESS_TOKEN_LIFETIME'].seconds",
        **{**GOOD, "DJANGO_ALLOWED_HOSTS": "a.example.com, b.example.com", "API_THROTTLE_USER": "100/min"},
        API_NUM_PROXIES="1",
        JWT_ACCESS_MINUTES="5",
    )

    assert value == "(['a.example.com', 'b.example.com'], '100/min', 1, 300)"
