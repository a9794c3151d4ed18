"""The logs of a quiet minute say what changed (issue 12 item 6): no Twilio request headers on every REST call,
no INFO line each time a waiting caller's hold music is fetched again or a console sends its heartbeat."""

import logging

import pytest
from django.test import Client

from tests.conftest import api_client_for
from tests.twilio.fixtures import twiml_of


def request_lines(caplog, path: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "voice.request" and path in record.getMessage()]


def test_a_waiting_callers_hold_music_fetch_is_logged_at_debug_only(twilio, line, twilio_gateway, caplog):
    call_sid = twilio.new_sid()
    twiml_of(twilio.incoming(call_sid=call_sid))
    caplog.set_level(logging.DEBUG, logger="voice.request")

    assert twilio.queue_wait(call_sid).status_code == 200
    twilio.queue_wait(call_sid)

    lines = request_lines(caplog, "/voicetwilio/queuewait")
    assert [record.levelno for record in lines] == [logging.DEBUG, logging.DEBUG]
    assert [record.levelno for record in request_lines(caplog, "/voicetwilio/voice")] == [logging.INFO]  # news


def test_a_console_heartbeat_is_logged_at_debug_and_a_failing_one_at_info(agent, caplog):
    caplog.set_level(logging.DEBUG, logger="voice.request")
    mine = api_client_for(agent.user)

    assert mine.post(f"/voicetwilio/agent/{agent.pk}/heartbeats").status_code < 400
    assert Client().post(f"/voicetwilio/agent/{agent.pk}/heartbeats").status_code == 401

    assert [record.levelno for record in request_lines(caplog, "/heartbeats")] == [logging.DEBUG, logging.INFO]


def test_other_requests_are_still_logged_at_info(staff_client, caplog):
    caplog.set_level(logging.DEBUG, logger="voice.request")

    staff_client.get("/voiceconfig/configs")

    assert [record.levelno for record in request_lines(caplog, "/voiceconfig/configs")] == [logging.INFO]


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_twilios_http_client_logs_nothing_below_warning(level):
    # twilio-python logs each request's method, URL and headers at INFO on this logger (twilio/http/http_client.py).
    assert not logging.getLogger("twilio.http_client").isEnabledFor(level)
    assert logging.getLogger("twilio.http_client").isEnabledFor(logging.WARNING)
