"""Recordings of a call and supervisors on a call (issue 18; docs/recording.md).

A recording's state is ours (requested, in-progress, paused, stopped) until Twilio's status callback says it is
final (completed, absent, failed): final states never change again, whatever order Twilio's news arrives in.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class RecordingState(models.TextChoices):
    REQUESTED = "requested", "Requested"  # decided and committed; Twilio not answered yet
    IN_PROGRESS = "in-progress", "Recording"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"  # Twilio told to stop; its completed callback brings the duration
    COMPLETED = "completed", "Completed"
    ABSENT = "absent", "Nothing recorded"
    FAILED = "failed", "Failed"


# A call has at most one of these at a time (a database constraint): what pause, resume and stop act on.
ACTIVE_RECORDING_STATES = [RecordingState.REQUESTED, RecordingState.IN_PROGRESS, RecordingState.PAUSED]
FINAL_RECORDING_STATES = [RecordingState.COMPLETED, RecordingState.ABSENT, RecordingState.FAILED]


class Recording(models.Model):
    """One Twilio recording of a call. `media_url` is Twilio's and never leaves the server (see docs/recording.md)."""

    call = models.ForeignKey("voiceconfig.Call", on_delete=models.CASCADE, related_name="recordings")
    # Empty until Twilio has answered the start request (or its callback arrived first).
    recording_sid = models.CharField("recording SID", max_length=34, blank=True, default="")
    state = models.CharField(max_length=20, choices=RecordingState.choices, default=RecordingState.REQUESTED)
    # RecordVerb (a voicemail), Conference, StartCallRecordingAPI, ...: Twilio's RecordingSource.
    source = models.CharField(max_length=40, blank=True, default="")
    channels = models.PositiveSmallIntegerField(default=2)
    duration_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds of audio, Twilio's count: paused spans are skipped, not silent"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Pauses (PCI: a card number read out): how many, their total and the one going on.
    pause_count = models.PositiveSmallIntegerField(default=0)
    paused_seconds = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    media_url = models.URLField("Twilio media URL", max_length=500, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    failure = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=RecordingState.values), name="recording_state_valid"),
            models.UniqueConstraint(
                fields=["recording_sid"], condition=~Q(recording_sid=""), name="recording_sid_unique"
            ),
            # Two clicks on Start racing each other start one recording.
            models.UniqueConstraint(
                fields=["call"], condition=Q(state__in=ACTIVE_RECORDING_STATES), name="one_active_recording_per_call"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="recording_age_idx")]

    def __str__(self) -> str:
        return f"{self.recording_sid or 'recording'} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_RECORDING_STATES


class SupervisionMode(models.TextChoices):
    LISTEN = "listen", "Listen (muted)"
    WHISPER = "whisper", "Whisper (heard by the agent only)"
    BARGE = "barge", "Barge (heard by everyone)"


class SupervisionState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    ON = "on", "On the call"
    ENDED = "ended", "Ended"
    FAILED = "failed", "Failed"


class Supervision(models.Model):
    """A supervisor's softphone in a call's conference: listening, whispering to the agent or barged in."""

    call = models.ForeignKey("voiceconfig.Call", on_delete=models.CASCADE, related_name="supervisions")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    identity = models.CharField(max_length=121, help_text="The supervisor's softphone (client identity)")
    mode = models.CharField(max_length=10, choices=SupervisionMode.choices, default=SupervisionMode.LISTEN)
    state = models.CharField(max_length=10, choices=SupervisionState.choices, default=SupervisionState.REQUESTED)
    leg_sid = models.CharField("supervisor leg's call SID", max_length=34, blank=True, default="")
    failure = models.CharField(max_length=500, blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["call", "started_at", "id"]
        permissions = [("supervise_call", "Can listen to, whisper on and barge into live calls")]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=SupervisionMode.values), name="supervision_mode_valid"),
            models.CheckConstraint(condition=Q(state__in=SupervisionState.values), name="supervision_state_valid"),
            models.UniqueConstraint(
                fields=["call", "supervisor"],
                condition=Q(state__in=["requested", "on"]),
                name="one_live_supervision_per_supervisor",
            ),
        ]
        indexes = [models.Index(fields=["leg_sid"], name="supervision_leg_idx")]

    def __str__(self) -> str:
        return f"{self.identity} {self.mode} on call {self.call_id} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in (SupervisionState.REQUESTED, SupervisionState.ON)
