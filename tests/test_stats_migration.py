"""Migration 0019 works the statistics' facts out of the calls already there (issue 17)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("voiceconfig", "0018_callback_department")]
AFTER = [("voiceconfig", "0019_stats_facts")]


@pytest.mark.django_db(transaction=True)
def test_the_backfill_stores_the_facts_of_ended_calls():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Config, Line, Agent, Call = (
        apps.get_model("voiceconfig", name) for name in ("VoiceConfig", "PhoneLine", "VoiceAgent", "Call")
    )
    Transfer, CallLog, User = (
        apps.get_model("voiceconfig", "Transfer"),
        apps.get_model("voiceconfig", "CallLog"),
        apps.get_model("auth", "User"),
    )
    line = Line.objects.create(
        name="Main", phone_number="+14155550100", config=Config.objects.create(name="C", wrap_up_seconds=25)
    )
    ann = Agent.objects.create(identity="ann", user=User.objects.create(username="ann"))
    now = timezone.now()

    def call(n, **fields):
        return Call.objects.create(call_sid=f"CA{n:032x}", phone_line=line, started_at=now, ended_at=now, **fields)

    talked = call(1, queued_at=now, answered_at=now, agent=ann, stage="connected", status="completed")
    gone = call(2, queued_at=now, stage="abandoned", status="completed")
    outbound = call(3, direction="outbound-api", answered_at=now, agent=ann, stage="connected", status="completed")
    closed = call(4, stage="message", status="completed")
    live = Call.objects.create(
        call_sid=f"CA{5:032x}", phone_line=line, queued_at=now, stage="queued", status="in-progress"
    )
    Transfer.objects.create(call=talked, step=1, target_type="phonenumber", target="+1415555", state="completed")
    Transfer.objects.create(call=gone, step=1, target_type="phonenumber", target="+1415555", state="failed")
    CallLog.objects.create(call=closed, call_sid=closed.call_sid, event="routing", dedupe_key="after-hours")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    Call = executor.loader.project_state(AFTER).apps.get_model("voiceconfig", "Call")
    facts = {
        c.pk: (c.offered, c.abandoned, c.transferred, c.after_hours, c.wrap_up_seconds) for c in Call.objects.all()
    }
    assert facts == {
        talked.pk: (True, False, True, False, 25),
        gone.pk: (True, True, False, False, 0),  # a failed transfer is not a transfer
        outbound.pk: (False, False, False, False, 25),
        closed.pk: (False, False, False, True, 0),
        live.pk: (False, False, False, False, 0),  # not ended: stored when it ends
    }
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
