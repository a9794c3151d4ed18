"""Simultaneous recording and supervision requests on PostgreSQL, where row locks are real: racing clicks on Record
start one recording at Twilio, and a supervisor's racing Listen clicks ring their softphone once."""

import time

import pytest
from django.contrib.auth.models import Permission

from tests.console_support import connected_call, install_fake_gateway
from tests.test_console_concurrency import run_together
from tests.twilio.payloads import sid
from voiceconfig.models import CallEvent, CallLog, Recording, RecordingPolicy, Supervision
from voicetwilio import gateway, recording, supervision

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def slowly(fake, name, answer):
    def call(**kwargs):
        time.sleep(0.2)  # Twilio takes a moment: every request is in flight together
        fake._record(name, kwargs)
        return answer

    return call


def test_ten_simultaneous_starts_record_once(monkeypatch, make_agent, line, config):
    fake = install_fake_gateway(monkeypatch)
    monkeypatch.setattr(gateway, "start_call_recording", slowly(fake, "start_call_recording", sid("RE", 1)))
    config.recording_policy = RecordingPolicy.ON_DEMAND
    config.save()
    call = connected_call(agent=make_agent("alice"), line=line)

    results = run_together(10, lambda i: recording.call_start_recording(call=call))

    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(r.changed for r in results) == 1
    assert fake.names() == ["start_call_recording"]
    assert Recording.objects.count() == 1
    assert CallLog.objects.filter(call=call, event=CallEvent.RECORDING).count() == 1


def test_a_supervisors_simultaneous_listen_clicks_ring_them_once(monkeypatch, make_agent, line):
    fake = install_fake_gateway(monkeypatch)
    monkeypatch.setattr(gateway, "add_supervisor", slowly(fake, "add_supervisor", sid("CA", 9000)))
    lead = make_agent("carol")
    lead.user.user_permissions.add(Permission.objects.get(codename="supervise_call"))
    call = connected_call(agent=make_agent("alice"), line=line)

    results = run_together(5, lambda i: supervision.call_monitor(call=call, user=lead.user, mode="listen"))

    assert all(not isinstance(r, Exception) for r in results), results
    assert fake.names() == ["add_supervisor"]
    assert Supervision.objects.count() == 1
