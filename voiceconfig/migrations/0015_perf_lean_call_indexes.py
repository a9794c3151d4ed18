"""Leaner indexes on the webhook hot tables (issue 14). Each change, and why (EXPLAIN in docs/performance.md):

1. call_queue_idx (status, queued_at) goes: no query can use it. The queue is read through call_waiting_idx
   (stage = 'queued'); "live calls" are `status NOT IN (terminal)`, which a B-tree on status cannot serve; an
   agent's live call is found through one_active_call_per_agent. Every status update paid for it.
2. The call's call_sid LIKE-pattern index (voiceconfig_call_call_sid_..._like, varchar_pattern_ops) goes: only a
   case-sensitive prefix LIKE could use it, and nothing asks one (searches are icontains, which it cannot serve).
   The uniqueness moves from the field's unique=True (which creates that index) to the constraint
   call_sid_unique: the same unique B-tree, added before the old one is dropped.
3. The call log's call_sid index and its LIKE-pattern index go: the dedupe constraint call_log_dedupe
   (call_sid, dedupe_key) leads with call_sid and serves every lookup by CallSid.
4. The call log's call_id index goes: call_log_timeline_idx (call_id, created_at) leads with call_id and serves
   the timeline, lookups by call and the cascade on delete.

What stays holds status or stage only where a query or an invariant needs it: call_waiting_idx (routing picks
the longest-waiting caller among few queued ones) and one_active_call_per_agent (decision 6, a constraint).
"""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("voiceconfig", "0014_departments_transfer"),
    ]

    operations = [
        # 1.
        migrations.RemoveIndex(model_name="call", name="call_queue_idx"),
        # 2. The new unique index first, so the CallSid is never without one.
        migrations.AddConstraint(
            model_name="call",
            constraint=models.UniqueConstraint(fields=("call_sid",), name="call_sid_unique"),
        ),
        migrations.AlterField(
            model_name="call",
            name="call_sid",
            field=models.CharField(
                max_length=34,
                validators=[
                    django.core.validators.RegexValidator("^CA[0-9a-f]{32}$", "A Twilio Call SID: CA + 32 hex.")
                ],
                verbose_name="call SID",
            ),
        ),
        # 4.
        migrations.AlterField(
            model_name="calllog",
            name="call",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="logs",
                to="voiceconfig.call",
            ),
        ),
        # 3.
        migrations.AlterField(
            model_name="calllog",
            name="call_sid",
            field=models.CharField(blank=True, default="", max_length=34, verbose_name="call SID"),
        ),
    ]
