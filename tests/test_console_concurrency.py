"""Simultaneous console actions on PostgreSQL, where row locks are real (SQLite would serialise them anyway)."""

import threading
import time

import pytest
from django.db import connection

from tests.console_support import connected_call, install_fake_gateway, make_available
from voiceconfig.models import AgentStatus, Call, CallEvent, CallLog
from voiceconfig.services import StateConflict
from voicetwilio import callcontrol

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(count: int, action) -> list:
    """Start `count` threads at the same instant, each on its own database connection; return what each got."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = action(index)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_transfers_to_one_agent_at_once_reserve_them_once(monkeypatch, make_agent, line):
    fake = install_fake_gateway(monkeypatch)
    original_add = fake.add_participant

    def slow_add(**kwargs):
        time.sleep(0.2)  # Twilio takes a moment: both requests are in flight together
        return original_add(**kwargs)

    monkeypatch.setattr(callcontrol.gateway, "add_participant", slow_add)
    alice, carol = make_agent("alice"), make_agent("carol")
    bob = make_available(make_agent("bob"))
    calls = [connected_call(agent=alice, line=line, n=1), connected_call(agent=carol, line=line, n=2)]

    results = run_together(2, lambda i: callcontrol.call_transfer(call=calls[i], kind="client", to="bob", mode="cold"))

    won = [r for r in results if isinstance(r, callcontrol.TransferOutcome)]
    refused = [r for r in results if isinstance(r, StateConflict)]
    assert (len(won), len(refused)) == (1, 1), results
    assert Call.objects.filter(agent=bob).count() == 1
    bob.refresh_from_db()
    assert bob.status == AgentStatus.RINGING
    assert len(fake.kwargs("add_participant")) == 1


def test_twenty_simultaneous_holds_record_one(monkeypatch, make_agent, line):
    install_fake_gateway(monkeypatch)
    call = connected_call(agent=make_agent("alice"), line=line)

    results = run_together(20, lambda i: callcontrol.call_hold(call=call))

    assert all(isinstance(r, callcontrol.HoldOutcome) for r in results), results
    assert CallLog.objects.filter(call=call, event=CallEvent.HOLD).count() == 1
    assert Call.objects.get(pk=call.pk).on_hold
