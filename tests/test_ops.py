"""Operations: the health check, structured logs that carry the CallSid, deploy checks and the gunicorn config."""

import io
import json
import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from voice_project.logging_context import CallContextFilter, JsonFormatter, bind_call_sid
from voice_project.settings import BASE_DIR

CALL_SID = "CA" + "ab" * 16


@pytest.fixture
def log_lines():
    """Every log line written during the test, as the production handler formats them (JSON), parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CallContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def production_env(**extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "TWILIO_", "PYTEST", "BENCH_"))
    }
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-long-random-production-secret-key-4f0c1e8b9a7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1",
        DJANGO_ALLOWED_HOSTS="voice.example.com",
        **extra,
    )
    return env


class TestHealthz:
    def test_answers_ok_when_the_database_answers(self, db):
        response = Client().get("/healthz")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json()["status"] == "ok"
        assert response.json()["checks"] == {"database": "ok"}
        assert "no-cache" in response["Cache-Control"]

    def test_answers_503_when_the_database_is_down(self, db):
        with mock.patch("voice_project.health.connection.cursor", side_effect=OperationalError("connection refused")):
            response = Client().get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}

    def test_needs_no_login_and_only_reads(self, db):
        assert Client().head("/healthz").status_code == 200
        assert Client().post("/healthz").status_code == 405


class TestCallSidInLogs:
    def test_every_line_of_a_webhook_request_carries_its_call_sid(self, db, log_lines):
        Client().post("/voicetwilio/statuscallback", {"CallSid": CALL_SID, "CallStatus": "ringing"})
        lines = log_lines()
        assert lines, "the request wrote no log line"
        assert all(line["call_sid"] == CALL_SID for line in lines)
        request_line = next(line for line in lines if line["logger"] == "voice.request")
        assert request_line["path"] == "/voicetwilio/statuscallback"
        assert isinstance(request_line["status"], int)
        assert request_line["duration_ms"] >= 0
        assert request_line["request_id"]

    def test_a_call_sid_in_the_path_is_bound_too(self, db, log_lines):
        Client().post(f"/voicetwilio/calls/{CALL_SID}:onhold", {}, content_type="application/json")
        assert {line["call_sid"] for line in log_lines()} == {CALL_SID}

    def test_the_spec_camel_case_field_is_understood(self, db, log_lines):
        Client().post("/voicetwilio/gather", {"callSid": CALL_SID, "digits": "1"})
        assert {line["call_sid"] for line in log_lines()} == {CALL_SID}

    def test_a_call_sid_in_the_query_string_is_bound_too(self, db, log_lines):
        Client().post(f"/voicetwilio/statuscallback?ParentCallSid={CALL_SID}", {"CallStatus": "ringing"})
        assert {line["call_sid"] for line in log_lines()} == {CALL_SID}

    def test_a_form_too_big_to_read_is_still_logged_without_a_call_sid(self, db, log_lines, settings):
        settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2
        response = Client().post("/voicetwilio/statuscallback", {"a": "1", "b": "2", "c": "3", "CallSid": CALL_SID})
        assert response.status_code < 500
        request_line = next(line for line in log_lines() if line["logger"] == "voice.request")
        assert request_line["call_sid"] == ""

    def test_the_call_sid_does_not_leak_into_the_next_request(self, db, log_lines):
        client = Client()
        client.post("/voicetwilio/statuscallback", {"CallSid": CALL_SID, "CallStatus": "ringing"})
        client.get("/healthz")
        health_line = [line for line in log_lines() if line.get("path") == "/healthz"][0]
        assert health_line["call_sid"] == ""

    def test_a_request_id_sent_by_the_proxy_is_kept(self, db, log_lines):
        Client().get("/healthz", HTTP_X_REQUEST_ID="req-42")
        assert [line["request_id"] for line in log_lines()] == ["req-42"]

    def test_code_that_learns_the_call_late_can_bind_it(self, log_lines):
        bind_call_sid(CALL_SID)
        logging.getLogger("voicetwilio.test").warning("routing decided")
        line = log_lines()[-1]
        assert (line["call_sid"], line["msg"], line["level"]) == (CALL_SID, "routing decided", "WARNING")

    def test_json_lines_keep_extra_fields_and_tracebacks(self, log_lines):
        logger = logging.getLogger("voicetwilio.test")
        try:
            raise ValueError("boom \u00e9")
        except ValueError:
            logger.exception("webhook failed", extra={"twilio_status": "ringing"})
        line = log_lines()[-1]
        assert line["twilio_status"] == "ringing"
        assert "ValueError: boom \u00e9" in line["exc"]


def test_deploy_check_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        # Production names the public URL Twilio calls (voicetwilio.W001 otherwise).
        env=production_env(TWILIO_WEBHOOK_BASE_URL="https://voice.example.com"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_logs_are_json_lines():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, logging; django.setup(); logging.getLogger('voicetwilio').warning('hello')",
        ],
        cwd=BASE_DIR,
        env=production_env(DJANGO_SETTINGS_MODULE="voice_project.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert (line["logger"], line["msg"], line["call_sid"]) == ("voicetwilio", "hello", "")


class TestGunicornConfig:
    def config(self, **env: str) -> dict:
        with mock.patch.dict(os.environ, env):
            return runpy.run_path(str(Path(BASE_DIR) / "gunicorn.conf.py"))

    def test_production_defaults(self):
        config = self.config()
        assert config["workers"] == (os.cpu_count() or 1) * 2 + 1
        # Below Twilio's 15 s webhook limit, so a stuck worker is replaced before Twilio gives up.
        assert config["timeout"] < 15
        assert 0 < config["graceful_timeout"] <= config["timeout"]
        assert config["max_requests"] > 0 and 0 < config["max_requests_jitter"] < config["max_requests"]
        assert "status=%(s)s" in config["access_log_format"]
        assert config["wsgi_app"] == "voice_project.wsgi:application"
        # gunicorn's own lines are JSON like the application's.
        assert config["logconfig_dict"]["formatters"]["json"]["()"].endswith("JsonFormatter")

    def test_environment_overrides(self):
        config = self.config(GUNICORN_WORKERS="3", GUNICORN_BIND="0.0.0.0:9000", GUNICORN_TIMEOUT="8")
        assert (config["workers"], config["bind"], config["timeout"]) == (3, "0.0.0.0:9000", 8)

    def test_gunicorn_accepts_it_and_loads_the_app(self):
        result = subprocess.run(
            [str(Path(sys.executable).parent / "gunicorn"), "--check-config", "-c", "gunicorn.conf.py"],
            cwd=BASE_DIR,
            env=production_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_bench_baseline_views_are_off_unless_the_bench_turns_them_on(db):
    assert Client().post("/bench/read-insert", {"CallSid": CALL_SID}).status_code == 404
