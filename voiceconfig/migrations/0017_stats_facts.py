"""Issue 17: statistics facts on the call, staffed time and missed rings.

- Five plain columns on Call, stored by the call package when a call ends (calls/stats_facts.py), so the
  summary counts columns with conditional aggregates instead of reading logs and transfers for every call.
- call_started_idx (started_at): every statistic is over the calls *started* in a range of local days, so the
  summary is an index range scan on it (30 days of a year of calls reads a twelfth of the table); a
  (department, started_at) index would serve only the department filter, and a call's department may come from
  its line (Coalesce), which such an index cannot use.
- AgentSession (staffed time, written by calls/presence.py on heartbeats) and MissedRing (written where an agent's
  ring ends unanswered).
- The backfill works the facts out of the rows already there, once: offered/abandoned from direction, queued_at
  and stage; transferred from the Transfer rows; wrap-up from the line's config today; after hours from the
  routing log row the flow wrote (the one time the log is read back: from now on the flow stores the fact).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Exists, OuterRef, Q, Subquery


def backfill(apps, schema_editor):
    Call = apps.get_model("voiceconfig", "Call")
    Transfer = apps.get_model("voiceconfig", "Transfer")
    CallLog = apps.get_model("voiceconfig", "CallLog")
    VoiceConfig = apps.get_model("voiceconfig", "VoiceConfig")
    ended = Call.objects.filter(ended_at__isnull=False)
    ended.filter(direction="inbound", queued_at__isnull=False).update(offered=True)
    ended.filter(direction="inbound", queued_at__isnull=False, stage="abandoned").update(abandoned=True)
    ended.filter(Exists(Transfer.objects.filter(call=OuterRef("pk"), state__in=["connected", "completed"]))).update(
        transferred=True
    )
    Call.objects.filter(Exists(CallLog.objects.filter(call=OuterRef("pk"), dedupe_key="after-hours"))).update(
        after_hours=True
    )
    wrap = VoiceConfig.objects.filter(phone_lines=OuterRef("phone_line_id")).values("wrap_up_seconds")[:1]
    ended.filter(~Q(agent=None), answered_at__isnull=False, phone_line__isnull=False).update(
        wrap_up_seconds=Subquery(wrap)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("voiceconfig", "0016_outbound_callbacks"),
    ]

    operations = [
        migrations.CreateModel(
            name="AgentSession",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField()),
                ("ended_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["agent_id", "started_at"],
            },
        ),
        migrations.CreateModel(
            name="MissedRing",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField()),
            ],
            options={
                "ordering": ["at", "id"],
            },
        ),
        migrations.AddField(
            model_name="call",
            name="abandoned",
            field=models.BooleanField(default=False, help_text="Offered, and the caller hung up while waiting"),
        ),
        migrations.AddField(
            model_name="call",
            name="after_hours",
            field=models.BooleanField(default=False, help_text="Came in while the line was closed"),
        ),
        migrations.AddField(
            model_name="call",
            name="offered",
            field=models.BooleanField(default=False, help_text="An inbound call that reached the queue"),
        ),
        migrations.AddField(
            model_name="call",
            name="transferred",
            field=models.BooleanField(default=False, help_text="Passed on to another party who took it"),
        ),
        migrations.AddField(
            model_name="call",
            name="wrap_up_seconds",
            field=models.PositiveIntegerField(default=0, help_text="The agent's wrap-up after the call"),
        ),
        migrations.AddIndex(
            model_name="call",
            index=models.Index(fields=["started_at"], name="call_started_idx"),
        ),
        migrations.AddField(
            model_name="agentsession",
            name="agent",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sessions",
                to="voiceconfig.voiceagent",
            ),
        ),
        migrations.AddField(
            model_name="missedring",
            name="agent",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="missed_rings", to="voiceconfig.voiceagent"
            ),
        ),
        migrations.AddField(
            model_name="missedring",
            name="call",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="missed_rings", to="voiceconfig.call"
            ),
        ),
        migrations.AddIndex(
            model_name="agentsession",
            index=models.Index(fields=["agent", "ended_at"], name="session_agent_idx"),
        ),
        migrations.AddIndex(
            model_name="agentsession",
            index=models.Index(fields=["started_at"], name="session_started_idx"),
        ),
        migrations.AddConstraint(
            model_name="agentsession",
            constraint=models.CheckConstraint(
                condition=models.Q(("ended_at__gte", models.F("started_at"))), name="session_ordered"
            ),
        ),
        migrations.AddIndex(
            model_name="missedring",
            index=models.Index(fields=["at"], name="missed_ring_at_idx"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
