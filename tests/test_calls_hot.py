"""Status changes that do not end a call are HOT updates on PostgreSQL (issue 14, migration 0020).

An UPDATE is HOT (no index entry written) only when it changes no column an index reads, partial-index predicates
included. Read from PostgreSQL's own counters for this transaction (pg_stat_xact_user_tables), so the test fails
the day an index starts reading `status` (or `last_sequence_number`, `updated_at`) again.
"""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from voiceconfig.models import Call

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def call_updates() -> tuple[int, int]:
    """(updates, HOT updates) of the call table in this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
            [Call._meta.db_table],
        )
        return cursor.fetchone()


def test_status_callbacks_that_do_not_end_the_call_are_hot_updates(twilio, line, twilio_gateway):
    sids = ["CA" + f"{n:032x}" for n in range(1, 6)]
    for call_sid in sids:
        twilio.incoming(call_sid=call_sid)  # ringing, queued (nobody free)
    updates, hot = call_updates()
    for call_sid in sids:
        twilio.status(call_sid, "in-progress", seq=1)
    after_updates, after_hot = call_updates()
    assert set(Call.objects.values_list("status", flat=True)) == {"in-progress"}
    assert after_updates - updates == len(sids)
    assert after_hot - hot == len(sids), "every status-only update is HOT"
    # The SequenceNumber alone (a callback that changes nothing else) too.
    for call_sid in sids:
        twilio.status(call_sid, "in-progress", seq=2)
    assert call_updates()[1] - after_hot == len(sids)


def test_the_update_that_ends_a_call_is_not_hot_and_the_call_leaves_the_agents_live_calls(
    twilio, line, online_agent, twilio_gateway
):
    alice = online_agent("alice")
    twilio.incoming(call_sid="CA" + "1" * 32)
    call = Call.objects.get()
    assert call.agent_id == alice.pk and Call.objects.active().filter(agent=alice).exists()
    twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=alice, seq=2)
    updates, hot = call_updates()
    twilio.status(call.call_sid, "completed", seq=3)
    after_updates, after_hot = call_updates()
    assert after_updates - updates == 1 and after_hot == hot  # ended_at is read by one_active_call_per_agent
    assert not Call.objects.active().filter(agent=alice).exists()
    call.refresh_from_db()
    assert call.ended_at is not None and call.agent_id == alice.pk  # who talked stays on the finished call


def test_an_agent_still_never_holds_two_live_calls(online_agent, line):
    alice = online_agent("alice")
    Call.objects.create(call_sid="CA" + "1" * 32, agent=alice, status="in-progress")
    Call.objects.create(call_sid="CA" + "2" * 32, agent=alice, status="completed", ended_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.create(call_sid="CA" + "3" * 32, agent=alice, status="ringing")


def test_a_live_call_cannot_have_an_end(line):
    # The check that keeps every live call in one_active_call_per_agent's index.
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.create(call_sid="CA" + "4" * 32, status="in-progress", ended_at=timezone.now())


def test_a_call_saved_finished_without_an_end_gets_one_and_frees_the_agent(online_agent, line):
    alice = online_agent("alice")
    finished = Call.objects.create(call_sid="CA" + "5" * 32, agent=alice, status="completed")
    assert finished.ended_at is not None and Call.objects.get(pk=finished.pk).ended_at == finished.ended_at
    Call.objects.create(call_sid="CA" + "6" * 32, agent=alice, status="in-progress")  # her one live call
