"""What the statistics need beyond the call row (issue 17, docs/statistics.md).

Imported at the end of models.py, so Django finds these models in the app's models module.
"""

from django.db import models


class AgentSession(models.Model):
    """A stretch of time an agent's console was online (staffed time, for occupancy).

    Written by calls/presence.py on each heartbeat: a heartbeat within the heartbeat timeout of the previous one
    extends the agent's open session to now; a later one starts a new session. So a session runs from the first
    heartbeat to the last, and the gap after a console closes is not counted.
    """

    # No index of its own: session_agent_idx (agent, ended_at) leads with it.
    agent = models.ForeignKey(
        "voiceconfig.VoiceAgent", on_delete=models.CASCADE, related_name="sessions", db_index=False
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()

    class Meta:
        ordering = ["agent_id", "started_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ended_at__gte=models.F("started_at")), name="session_ordered")
        ]
        indexes = [
            # The heartbeat finds the agent's open session; the summary reads sessions overlapping a range.
            models.Index(fields=["agent", "ended_at"], name="session_agent_idx"),
            models.Index(fields=["started_at"], name="session_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} online {self.started_at:%Y-%m-%d %H:%M}-{self.ended_at:%H:%M}"


class MissedRing(models.Model):
    """An agent was rung for a waiting caller and did not answer (rang out, busy, declined or failed)."""

    agent = models.ForeignKey("voiceconfig.VoiceAgent", on_delete=models.CASCADE, related_name="missed_rings")
    call = models.ForeignKey("voiceconfig.Call", on_delete=models.CASCADE, related_name="missed_rings")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["at"], name="missed_ring_at_idx")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} missed call {self.call_id} at {self.at:%Y-%m-%d %H:%M:%S}"
