"""Status changes that do not end a call become HOT updates (issue 14). Each change, and why (EXPLAIN and the
pg_stat figures in docs/performance.md, "HOT updates"):

PostgreSQL makes an UPDATE "HOT" (heap-only: no index entry written, the new row version on the same page) only
when no column that any index reads changes, the columns of a partial index's predicate included. `status` was
read by one index only, one_active_call_per_agent (decision 6: `agent_id` unique WHERE the call is live, said as
`status NOT IN (terminal)`), so every status change wrote all nine of the call's index entries, though no index
needs the status.

1. The data: a live call never has an end (no code path writes one: the end is written with the terminal status,
   by status, sql, outbound and backfill), and a finished call without one gets its last write time as its end,
   so that it leaves the index of 3 (none is written so by the code, but a row from before may be).
2. call_live_has_no_end (CHECK): a live call (status not terminal) has no end. So every live call is a row with
   ended_at NULL, and the database keeps it so.
3. one_active_call_per_agent reads ended_at instead of status: every live call is in it (by 2), so an agent still
   never holds two live calls; replaced inside this migration's transaction, so no moment is without it. A status
   change that does not end the call (ringing -> in-progress on every call, a SequenceNumber, a hold) touches no
   indexed column any more and can be HOT; the one that ends the call writes ended_at and stays a normal update,
   once per call. Call.objects.active() names ended_at too, so the planner still uses this index to find an
   agent's live call.
4. fillfactor 80 on the call table: HOT needs room on the row's own page. A call is updated three to six times
   in its life (status, stage, agent, durations); pages filled to 100 % by inserts leave none, so the first
   update moved every row to another page (and wrote every index entry again).

call_waiting_idx keeps `stage`: routing needs the waiting callers by stage, so a stage move stays non-HOT.
"""

from django.db import migrations, models

TERMINAL = ["completed", "busy", "no-answer", "canceled", "failed"]


def ends_match_statuses(apps, schema_editor):
    Call = apps.get_model("voiceconfig", "Call")
    for call in Call.objects.filter(status__in=TERMINAL, ended_at__isnull=True).only("pk", "updated_at"):
        Call.objects.filter(pk=call.pk).update(ended_at=call.updated_at)
    Call.objects.exclude(status__in=TERMINAL).exclude(ended_at__isnull=True).update(ended_at=None)


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE voiceconfig_call SET (fillfactor = 80)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE voiceconfig_call RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("voiceconfig", "0019_stats_facts"),
    ]

    operations = [
        # 1.
        migrations.RunPython(ends_match_statuses, migrations.RunPython.noop),
        # 2.
        migrations.AddConstraint(
            model_name="call",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", TERMINAL), ("ended_at__isnull", True), _connector="OR"),
                name="call_live_has_no_end",
            ),
        ),
        # 3.
        migrations.RemoveConstraint(model_name="call", name="one_active_call_per_agent"),
        migrations.AddConstraint(
            model_name="call",
            constraint=models.UniqueConstraint(
                condition=models.Q(("agent__isnull", False), ("ended_at__isnull", True)),
                fields=("agent",),
                name="one_active_call_per_agent",
            ),
        ),
        # 4.
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
