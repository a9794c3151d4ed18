"""The two tables the bare baseline touches.

`BareCall` is the project's call table read through an unmanaged model (two columns are all the read needs).
`BareEvent` is a row shaped like a call log (same columns, the same foreign-key index and dedupe constraint), in a
table of its own so that the baseline never writes into the project's tables.
"""

from django.db import models


class BareCall(models.Model):
    call_sid = models.CharField(max_length=34, unique=True)

    class Meta:
        managed = False
        db_table = "voiceconfig_call"

    def __str__(self) -> str:
        return self.call_sid


class BareEvent(models.Model):
    call = models.ForeignKey(BareCall, null=True, on_delete=models.DO_NOTHING, db_constraint=False)
    call_sid = models.CharField(max_length=34)
    event = models.CharField(max_length=32)
    dedupe_key = models.CharField(max_length=200, null=True)
    call_status = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict)
    sequence_number = models.IntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "bench_bare_event"
        constraints = [models.UniqueConstraint(fields=["call_sid", "dedupe_key"], name="bench_bare_event_dedupe")]

    def __str__(self) -> str:
        return f"{self.call_sid} {self.event}"
