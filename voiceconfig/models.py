"""Every table of the voice channel. Invariants live in database constraints first."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .validators import (
    CALL_SID_PATTERN,
    DTMF_KEYS,
    PHONE_NUMBER_SID_PATTERN,
    validate_e164,
    validate_identity,
    validate_time_zone,
)


class AfterHoursAction(models.TextChoices):
    MESSAGE = "message", "Play a message and hang up"
    VOICEMAIL = "voicemail", "Take a voicemail"
    FORWARD = "forward", "Forward to a phone number"


class IvrAction(models.TextChoices):
    ROUTE = "route", "Route to an agent"
    VOICEMAIL = "voicemail", "Take a voicemail"
    MESSAGE = "message", "Play a message and hang up"
    FORWARD = "forward", "Forward to a phone number"


class RecordingPolicy(models.TextChoices):
    OFF = "off", "Off"
    ALWAYS = "always", "Always, from the agent's answer (dual channel)"
    ON_DEMAND = "on-demand", "On demand (the agent starts it)"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


# Premium-rate and shared-cost ranges toll fraud dials: US 900/976, UK 09/087x, France 08 9, Germany 0900,
# international premium and satellite ranges. Editable per config.
DEFAULT_DENIED_PREFIXES = "+1900,+1976,+4490,+4491,+4498,+44870,+44871,+44872,+44873,+3389,+49900,+881,+882,+883"


class VoiceConfig(models.Model):
    """How a line behaves: greeting, IVR menu, business hours, queueing and recording."""

    name = models.CharField(max_length=100, unique=True)
    # Greeting: an audio URL when given, else text-to-speech with this voice and language.
    greeting_text = models.CharField(max_length=1000, blank=True, default="Thank you for calling.")
    greeting_audio_url = models.URLField("greeting audio URL", max_length=500, blank=True, default="")
    voice = models.CharField(max_length=50, default="Polly.Joanna", help_text="Twilio <Say> voice")
    language = models.CharField(max_length=10, default="en-US", help_text="BCP-47 language for <Say> and speech")
    # IVR menu: the prompt read before options; no options means no menu.
    ivr_prompt = models.CharField("IVR prompt", max_length=1000, blank=True, default="")
    ivr_max_attempts = models.PositiveSmallIntegerField(
        "IVR attempts",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Prompts before giving up",
    )
    ivr_timeout_seconds = models.PositiveSmallIntegerField(
        "IVR timeout (seconds)", default=5, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    after_hours_action = models.CharField(
        max_length=20, choices=AfterHoursAction.choices, default=AfterHoursAction.MESSAGE
    )
    after_hours_message = models.CharField(
        max_length=1000, blank=True, default="We are closed now. Please call again during business hours."
    )
    after_hours_forward_to = models.CharField(max_length=16, blank=True, default="", validators=[validate_e164])
    hold_music_url = models.URLField(
        "hold music URL",
        max_length=500,
        blank=True,
        default="http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3",
    )
    ring_timeout_seconds = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(5), MaxValueValidator(120)]
    )
    max_queue_wait_seconds = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(0), MaxValueValidator(3600)]
    )
    voicemail_enabled = models.BooleanField(default=True)
    voicemail_prompt = models.CharField(
        max_length=1000, blank=True, default="Nobody can take your call. Please leave a message after the tone."
    )
    voicemail_max_seconds = models.PositiveSmallIntegerField(
        default=120, validators=[MinValueValidator(5), MaxValueValidator(600)]
    )
    unavailable_message = models.CharField(
        max_length=1000, blank=True, default="Sorry, nobody can take your call right now. Goodbye."
    )
    # Recording (docs/recording.md). A department may override the policy once departments exist
    # (voiceconfig.calls.recordings.recording_policy_for is the one place that decides).
    recording_policy = models.CharField(max_length=20, choices=RecordingPolicy.choices, default=RecordingPolicy.OFF)
    recording_consent_text = models.CharField(
        max_length=1000,
        blank=True,
        default="This call may be recorded for quality and training purposes.",
        help_text="Said to the caller (the config's voice and language) before any recording, unless an audio URL "
        "is given",
    )
    recording_consent_audio_url = models.URLField("recording consent audio URL", max_length=500, blank=True, default="")
    recording_retention_days = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(3650)],
        help_text="Recordings older than this are deleted at Twilio and here by manage.py purge_recordings; 0 keeps "
        "them",
    )
    wrap_up_seconds = models.PositiveSmallIntegerField(default=10, validators=[MaxValueValidator(600)])
    # Outbound calls (issue 19): the toll-fraud guard and the queued callback. Policy in voiceconfig/calls/outbound.py.
    outbound_country_codes = models.CharField(
        "outbound country codes",
        max_length=200,
        blank=True,
        default="",
        help_text="Country calling codes agents may dial, comma-separated (1, 44). Empty: the line's own country.",
    )
    outbound_denied_prefixes = models.CharField(
        "outbound denied prefixes",
        max_length=1000,
        blank=True,
        default=DEFAULT_DENIED_PREFIXES,
        help_text="E.164 prefixes never dialled (premium rate), comma-separated.",
    )
    outbound_calls_per_agent_hour = models.PositiveSmallIntegerField(
        "outbound calls per agent per hour", default=30, validators=[MaxValueValidator(1000)]
    )
    callback_offer_after_seconds = models.PositiveIntegerField(
        "offer a callback after (seconds)",
        default=0,
        validators=[MaxValueValidator(3600)],
        help_text="A caller who waited this long hears 'press 1 to be called back'. 0: never offered.",
    )
    callback_max_attempts = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    callback_retry_seconds = models.PositiveIntegerField(
        "callback retry delay (seconds)", default=300, validators=[MinValueValidator(10), MaxValueValidator(86400)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ring_timeout_seconds__gte=5, ring_timeout_seconds__lte=120),
                name="config_ring_timeout_range",
            ),
            models.CheckConstraint(condition=Q(max_queue_wait_seconds__lte=3600), name="config_max_queue_wait_range"),
            models.CheckConstraint(condition=Q(wrap_up_seconds__lte=600), name="config_wrap_up_range"),
            models.CheckConstraint(
                condition=Q(recording_policy__in=RecordingPolicy.values), name="config_recording_policy_valid"
            ),
            models.CheckConstraint(
                condition=Q(ivr_max_attempts__gte=1, ivr_max_attempts__lte=5), name="config_ivr_attempts_range"
            ),
            models.CheckConstraint(
                condition=Q(after_hours_action__in=AfterHoursAction.values), name="config_after_hours_action_valid"
            ),
            # Forwarding after hours needs somewhere to forward to.
            models.CheckConstraint(
                condition=~Q(after_hours_action=AfterHoursAction.FORWARD) | ~Q(after_hours_forward_to=""),
                name="config_forward_needs_number",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BusinessHours(models.Model):
    """One opening range on one weekday, in the config's time zone.

    A range whose closing time is not after its opening time runs past midnight into the next day
    (22:00-06:00 on Friday covers Friday night and early Saturday). A config with no ranges is always open.
    """

    config = models.ForeignKey(VoiceConfig, on_delete=models.CASCADE, related_name="business_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["config_id", "weekday", "opens_at"]
        verbose_name_plural = "business hours"
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="business_hours_weekday_valid"),
            models.CheckConstraint(condition=~Q(opens_at=models.F("closes_at")), name="business_hours_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class Holiday(models.Model):
    """A date on which the line follows its after-hours action all day."""

    config = models.ForeignKey(VoiceConfig, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["config_id", "date"]
        constraints = [models.UniqueConstraint(fields=["config", "date"], name="holiday_unique_per_config")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class IvrOption(models.Model):
    """One IVR menu choice, picked by a key press or by saying one of its keywords."""

    config = models.ForeignKey(VoiceConfig, on_delete=models.CASCADE, related_name="ivr_options")
    digit = models.CharField(max_length=1, validators=[RegexValidator(r"^[0-9*#]$", "One key: 0-9, * or #.")])
    keywords = models.CharField(
        max_length=200, blank=True, default="", help_text="Comma-separated words a caller may say, e.g. 'sales, buy'"
    )
    label = models.CharField(max_length=100, blank=True, default="", help_text="Read to the caller: 'for sales'")
    action = models.CharField(max_length=20, choices=IvrAction.choices, default=IvrAction.ROUTE)
    message = models.CharField(max_length=1000, blank=True, default="")
    forward_to = models.CharField(max_length=16, blank=True, default="", validators=[validate_e164])
    # Issue 16: a `route` option may name the department its callers wait in (else the line's default).
    department = models.ForeignKey(
        "voiceconfig.Department", on_delete=models.SET_NULL, null=True, blank=True, related_name="ivr_options"
    )

    class Meta:
        ordering = ["config_id", "digit"]
        verbose_name = "IVR option"
        constraints = [
            models.UniqueConstraint(fields=["config", "digit"], name="ivr_option_unique_digit"),
            models.CheckConstraint(condition=Q(digit__in=list(DTMF_KEYS)), name="ivr_option_digit_valid"),
            models.CheckConstraint(condition=Q(action__in=IvrAction.values), name="ivr_option_action_valid"),
            models.CheckConstraint(
                condition=~Q(action=IvrAction.FORWARD) | ~Q(forward_to=""), name="ivr_option_forward_needs_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digit}: {self.label or self.get_action_display()}"

    def keyword_list(self) -> list[str]:
        return [word.strip().lower() for word in self.keywords.split(",") if word.strip()]


class AgentStatus(models.TextChoices):
    OFFLINE = "offline", "Offline"
    AVAILABLE = "available", "Available"
    UNAVAILABLE = "unavailable", "Unavailable"
    RINGING = "ringing", "Ringing"
    IN_CALL = "in_call", "In a call"
    WRAP_UP = "wrap_up", "Wrap-up"


class VoiceAgent(models.Model):
    """A person who answers calls in the browser softphone."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voice_agent")
    identity = models.CharField(max_length=121, unique=True, validators=[validate_identity])
    display_name = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=20, choices=AgentStatus.choices, default=AgentStatus.OFFLINE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Longest idle first: routing orders available agents by when their last call ended.
    last_call_ended_at = models.DateTimeField(null=True, blank=True)
    # In wrap-up until this moment; after it the agent counts as available again.
    wrap_up_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=AgentStatus.values), name="agent_status_valid"),
            models.CheckConstraint(condition=Q(identity__regex=r"^[A-Za-z0-9_]{1,121}$"), name="agent_identity_valid"),
        ]
        indexes = [models.Index(fields=["status", "last_call_ended_at"], name="agent_routing_idx")]

    def __str__(self) -> str:
        return self.display_name or self.identity


class PhoneLine(models.Model):
    """A phone number the business owns, the config it follows and the agents who answer it."""

    name = models.CharField(max_length=100)
    phone_number = models.CharField(max_length=16, unique=True, validators=[validate_e164])
    twilio_sid = models.CharField(
        "Twilio SID",
        max_length=34,
        blank=True,
        default="",
        validators=[RegexValidator(PHONE_NUMBER_SID_PATTERN, "A Twilio phone number SID: PN + 32 hex digits.")],
    )
    config = models.ForeignKey(VoiceConfig, on_delete=models.PROTECT, related_name="phone_lines")
    enabled = models.BooleanField(default=True)
    # Empty means every agent answers this line.
    agents = models.ManyToManyField(VoiceAgent, blank=True, related_name="phone_lines")
    # Issue 16: where this line's callers wait; empty keeps the line rule above (its agents, or everyone).
    default_department = models.ForeignKey(
        "voiceconfig.Department", on_delete=models.SET_NULL, null=True, blank=True, related_name="lines"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(phone_number__regex=r"^\+[1-9][0-9]{6,14}$"), name="line_number_e164"),
        ]
        # Buying and releasing cost or lose money and numbers: their own permissions, beyond changing a line.
        permissions = [
            ("buy_phone_number", "Can buy a phone number on the Twilio account"),
            ("release_phone_number", "Can release a phone number from the Twilio account"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone_number})"


class CallStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    INITIATED = "initiated", "Initiated"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in-progress", "In progress"
    COMPLETED = "completed", "Completed"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no-answer", "No answer"
    CANCELED = "canceled", "Canceled"
    FAILED = "failed", "Failed"


TERMINAL_CALL_STATUSES = [
    CallStatus.COMPLETED,
    CallStatus.BUSY,
    CallStatus.NO_ANSWER,
    CallStatus.CANCELED,
    CallStatus.FAILED,
]


class CallStage(models.TextChoices):
    """Where the caller is in our flow (Call.status is Twilio's view of the line, this is ours)."""

    NEW = "new", "New"
    IVR = "ivr", "In the IVR menu"
    QUEUED = "queued", "Waiting for an agent"
    CONNECTED = "connected", "Talking to an agent"
    VOICEMAIL = "voicemail", "Sent to voicemail"
    MESSAGE = "message", "Told a message and hung up"
    FORWARDED = "forwarded", "Forwarded to a phone number"
    REJECTED = "rejected", "Unknown or disabled number"
    ABANDONED = "abandoned", "Hung up while waiting"


class CallDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND_API = "outbound-api", "Outbound (API)"
    OUTBOUND_DIAL = "outbound-dial", "Outbound (Dial)"


class CallQuerySet(models.QuerySet):
    def active(self) -> "CallQuerySet":
        # A live call has no end (call_live_has_no_end): saying so lets PostgreSQL use the partial index
        # one_active_call_per_agent, whose predicate is on ended_at (migration 0020), for an agent's live call.
        return self.filter(ended_at__isnull=True).exclude(status__in=TERMINAL_CALL_STATUSES)


class Call(models.Model):
    """One Twilio call: who called which line, who answered, how long it waited, talked and held."""

    # Unique through Meta.constraints, not unique=True: the field option adds a second, LIKE-pattern index
    # (varchar_pattern_ops) on PostgreSQL that no query uses and every insert pays for (issue 14).
    call_sid = models.CharField(
        "call SID",
        max_length=34,
        validators=[RegexValidator(CALL_SID_PATTERN, "A Twilio Call SID: CA + 32 hex.")],
    )
    from_number = models.CharField("from", max_length=200, blank=True, default="")
    to_number = models.CharField("to", max_length=200, blank=True, default="")
    direction = models.CharField(max_length=20, choices=CallDirection.choices, default=CallDirection.INBOUND)
    status = models.CharField(max_length=20, choices=CallStatus.choices, default=CallStatus.QUEUED)
    # A caller waiting for an agent is stage=queued with no agent: what routing picks from, oldest queued_at first.
    stage = models.CharField(max_length=20, choices=CallStage.choices, default=CallStage.NEW)
    phone_line = models.ForeignKey(PhoneLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls")
    agent = models.ForeignKey(VoiceAgent, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls")
    # Issue 16: the department the caller waits in (set when they start waiting); empty: the line rule.
    department = models.ForeignKey(
        "voiceconfig.Department", on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    # Issue 16: when the caller last heard their place in the queue (at most once a minute).
    announced_at = models.DateTimeField(null=True, blank=True)
    # Conference the caller waits and talks in (decision 4), and the agent's leg into it.
    conference_name = models.CharField(max_length=100, blank=True, default="")
    conference_sid = models.CharField("conference SID", max_length=34, blank=True, default="")
    agent_call_sid = models.CharField("agent leg's call SID", max_length=34, blank=True, default="")
    # Highest Twilio SequenceNumber applied; older callbacks never move the state back.
    last_sequence_number = models.IntegerField(null=True, blank=True)
    ivr_attempts = models.PositiveSmallIntegerField("IVR attempts", default=0)
    ivr_choice = models.CharField("IVR choice", max_length=1, blank=True, default="")
    started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the call came in: Twilio's first voice request for it, while our number rings. Twilio "
        "answers it (status in-progress) a moment later, when it runs our answer.",
    )
    queued_at = models.DateTimeField(null=True, blank=True)
    # Back in the queue after a transfer nobody answered: the maximum wait counts from here (queued_at keeps
    # the caller's place), and while stage=queued the caller is on hold hearing the queue music.
    requeued_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When one of our agents first answered it: the wait ends and the talk time starts. Empty when no "
        "agent answered (abandoned, voicemail, message, forwarded), even though Twilio answered the call.",
    )
    ended_at = models.DateTimeField(
        null=True, blank=True, help_text="When the call ended, by Twilio's clock when a status callback says so."
    )
    wait_seconds = models.PositiveIntegerField(default=0)
    talk_seconds = models.PositiveIntegerField(default=0)
    hold_seconds = models.PositiveIntegerField(default=0)
    on_hold = models.BooleanField(default=False)
    hold_started_at = models.DateTimeField(null=True, blank=True)
    recording_url = models.URLField("recording URL", max_length=500, blank=True, default="")
    recording_sid = models.CharField("recording SID", max_length=34, blank=True, default="")
    recording_duration = models.PositiveIntegerField(null=True, blank=True)
    voicemail = models.BooleanField(default=False, help_text="The caller left a voicemail")
    # The agent who dialled an outbound call. `agent` lets go of them when the customer never answers (they are
    # free for the next call at once); this stays, so the toll-fraud guard's hourly limit counts every dial.
    placed_by = models.ForeignKey(
        VoiceAgent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The agent who dialled this outbound call",
    )
    # A missed call (abandoned, voicemail) is done once an agent called back or marked it by hand (issue 19).
    followed_up_at = models.DateTimeField(null=True, blank=True)
    # Statistics facts (issue 17, docs/statistics.md): written by the call package when the call ends
    # (calls/stats_facts.py; on PostgreSQL inside the status statement of calls/sql.py), so the summary counts
    # plain columns instead of working the call's story out again at every request.
    offered = models.BooleanField(default=False, help_text="An inbound call that reached the queue")
    abandoned = models.BooleanField(default=False, help_text="Offered, and the caller hung up while waiting")
    after_hours = models.BooleanField(default=False, help_text="Came in while the line was closed")
    transferred = models.BooleanField(default=False, help_text="Passed on to another party who took it")
    wrap_up_seconds = models.PositiveIntegerField(default=0, help_text="The agent's wrap-up after the call")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["call_sid"], name="call_sid_unique"),
            models.CheckConstraint(condition=Q(status__in=CallStatus.values), name="call_status_valid"),
            models.CheckConstraint(condition=Q(stage__in=CallStage.values), name="call_stage_valid"),
            models.CheckConstraint(condition=Q(direction__in=CallDirection.values), name="call_direction_valid"),
            # Decision 6: an agent never holds two live calls, whatever the application does. A live call has no
            # end (the check below), so every live call is in this index, which reads ended_at rather than status
            # so that a status change that does not end the call can be a HOT update (migration 0020, issue 14).
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(agent__isnull=False, ended_at__isnull=True),
                name="one_active_call_per_agent",
            ),
            models.CheckConstraint(
                condition=Q(status__in=TERMINAL_CALL_STATUSES) | Q(ended_at__isnull=True),
                name="call_live_has_no_end",
            ),
        ]
        # No index on status (issue 14): none of our queries can use one, and each index holding status makes
        # its every update write all the call's index entries. migrations/0011 says why each went.
        indexes = [
            models.Index(fields=["stage", "queued_at"], name="call_waiting_idx", condition=Q(stage="queued")),
            models.Index(fields=["agent_call_sid"], name="call_agent_leg_idx"),
            # The default ordering: a page of the call list reads 50 index entries instead of sorting every call.
            models.Index(fields=["-created_at", "-id"], name="call_recent_idx"),
            # The statistics' range scans (issue 17): every figure is over calls started in a range of days.
            models.Index(fields=["started_at"], name="call_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.call_sid} {self.from_number} -> {self.to_number} ({self.status})"

    def save(self, *args, **kwargs):
        # A finished call has an end: without one it would still count as the agent's live call in
        # one_active_call_per_agent (migration 0020). Every service writes the end with the terminal status; this
        # covers a call saved finished without one (staff, a fixture): its end is when we learnt it.
        if self.ended_at is None and self.status in TERMINAL_CALL_STATUSES:
            self.ended_at = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "ended_at"}
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status not in TERMINAL_CALL_STATUSES


class CallEvent(models.TextChoices):
    STATUS = "status", "Status change"
    IVR_INPUT = "ivr_input", "IVR input"
    ROUTING = "routing", "Routing decision"
    HOLD = "hold", "Hold"
    RESUME = "resume", "Resume"
    TRANSFER = "transfer", "Transfer"
    RECORDING = "recording", "Recording"
    VOICEMAIL = "voicemail", "Voicemail"
    AGENT = "agent", "Agent leg"
    CONFERENCE = "conference", "Conference"
    NOTE = "note", "Note"
    SUPERVISION = "supervision", "Supervision"
    UNKNOWN_CALL = "unknown_call", "Callback for an unknown call"


class CallLog(models.Model):
    """One event on a call's timeline."""

    # No index of its own: call_log_timeline_idx (call, created_at) serves every lookup by call (issue 14).
    call = models.ForeignKey(Call, on_delete=models.CASCADE, null=True, blank=True, related_name="logs", db_index=False)
    # Kept even when the call is unknown to us (a callback for a CallSid we never saw). Looked up through the
    # dedupe constraint's index, whose first column it is.
    call_sid = models.CharField("call SID", max_length=34, blank=True, default="")
    event = models.CharField(max_length=20, choices=CallEvent.choices, default=CallEvent.NOTE)
    call_status = models.CharField(max_length=20, blank=True, default="")
    message = models.CharField(max_length=2000, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    sequence_number = models.IntegerField(null=True, blank=True)
    # A Twilio callback delivered twice carries the same key: the second insert is a no-op.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(event__in=CallEvent.values), name="call_log_event_valid"),
            models.UniqueConstraint(fields=["call_sid", "dedupe_key"], name="call_log_dedupe"),
        ]
        indexes = [models.Index(fields=["call", "created_at"], name="call_log_timeline_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.event} {self.message}"[:120]


class TransferTarget(models.TextChoices):
    """Who a call is passed to (the API's `type`)."""

    PHONE_NUMBER = "phonenumber", "Phone number"
    AGENT = "client", "Agent"
    DEPARTMENT = "department", "Department"  # issue 16: the caller waits first in its queue


class TransferMode(models.TextChoices):
    COLD = "cold", "Cold (the agent leaves at once)"
    WARM = "warm", "Warm (the agent stays to introduce the caller)"


class TransferState(models.TextChoices):
    REQUESTED = "requested", "Requested"  # decided and committed; Twilio not asked yet
    RINGING = "ringing", "Ringing"  # Twilio added the new party; it rings
    CONNECTED = "connected", "Connected"  # the new party answered
    COMPLETED = "completed", "Completed"  # the new party's leg ended after talking
    UNANSWERED = "unanswered", "Not answered"  # rang out, busy, failed or cancelled at Twilio
    FAILED = "failed", "Failed"  # Twilio refused the request: nothing changed on the call


# A transfer in these states is over: it never changes again.
FINAL_TRANSFER_STATES = [TransferState.COMPLETED, TransferState.UNANSWERED, TransferState.FAILED]


class Transfer(models.Model):
    """One transfer of a call: who passed it to whom, how, and how it went. The state lives here, not in the log."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="transfers")
    # 1, 2, ... in the order the call was passed on: the transfer chain.
    step = models.PositiveSmallIntegerField()
    from_agent = models.ForeignKey(
        VoiceAgent, on_delete=models.SET_NULL, null=True, blank=True, related_name="transfers_made"
    )
    target_type = models.CharField(max_length=20, choices=TransferTarget.choices)
    # What Twilio dials: +E.164, or client:<identity> for an agent.
    target = models.CharField(max_length=130)
    to_agent = models.ForeignKey(
        VoiceAgent, on_delete=models.SET_NULL, null=True, blank=True, related_name="transfers_received"
    )
    mode = models.CharField(max_length=10, choices=TransferMode.choices, default=TransferMode.COLD)
    state = models.CharField(max_length=20, choices=TransferState.choices, default=TransferState.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The Twilio SIDs involved: the conference, the transferring agent's leg and the new party's leg.
    conference_sid = models.CharField(max_length=34, blank=True, default="")
    from_leg_sid = models.CharField(max_length=34, blank=True, default="")
    leg_sid = models.CharField(max_length=34, blank=True, default="")
    failure = models.CharField(max_length=500, blank=True, default="", help_text="Why Twilio refused, when it did.")
    requested_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["call", "step"]
        constraints = [
            models.UniqueConstraint(fields=["call", "step"], name="transfer_step_unique"),
            models.CheckConstraint(condition=Q(target_type__in=TransferTarget.values), name="transfer_target_valid"),
            models.CheckConstraint(condition=Q(mode__in=TransferMode.values), name="transfer_mode_valid"),
            models.CheckConstraint(condition=Q(state__in=TransferState.values), name="transfer_state_valid"),
        ]
        indexes = [models.Index(fields=["leg_sid"], name="transfer_leg_idx")]

    def __str__(self) -> str:
        return f"#{self.step} {self.get_mode_display().split(' ')[0]} to {self.target} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_TRANSFER_STATES


# --- Two-factor login (DESIGN.md decision 8; policy in voiceconfig/twofactor.py and the README) --------------------

# Wrong codes allowed on one preLoginToken, and consecutive wrong codes before the account locks. The database
# refuses counters above them, so no interleaving of requests can ever let more guesses through.
TWO_FACTOR_ATTEMPTS_PER_LOGIN = 5
TWO_FACTOR_FAILURES_BEFORE_LOCK = 10


class TwoFactorDevice(models.Model):
    """A user's TOTP authenticator: the shared secret, replay guard, failure counter and lock."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor")
    # Base32 TOTP secret; pending until `enabled` (the user proved with a code that their app has it).
    secret = models.CharField(max_length=64, blank=True, default="")
    enabled = models.BooleanField(default=False, help_text="Confirmed with a code: every login asks for a code")
    required = models.BooleanField(
        default=False, help_text="Staff require two-factor login: the next login sets it up when it is off"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The TOTP time step of the last accepted code: a code is accepted once, never replayed.
    last_used_step = models.BigIntegerField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0, help_text="Consecutive wrong codes")
    locked_at = models.DateTimeField(null=True, blank=True, help_text="Locked after too many wrong codes")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "two-factor device"
        constraints = [
            models.CheckConstraint(
                condition=Q(failed_attempts__lte=TWO_FACTOR_FAILURES_BEFORE_LOCK), name="two_factor_failures_capped"
            ),
            models.CheckConstraint(condition=~Q(enabled=True, secret=""), name="two_factor_enabled_has_secret"),
        ]

    def __str__(self) -> str:
        return f"2FA for {self.user}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class BackupCode(models.Model):
    """A one-time code for when the authenticator app is lost. Only its keyed hash is stored."""

    device = models.ForeignKey(TwoFactorDevice, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["device", "code_hash"], name="backup_code_unique")]

    def __str__(self) -> str:
        return f"backup code #{self.pk} ({'used' if self.used_at else 'unused'})"


class TrustedDevice(models.Model):
    """A browser where the user ticked "don't ask again for 14 days" (`isSKip2fa`).

    The browser holds a random token in an HttpOnly cookie; we keep its hash, so staff (or a password change)
    can revoke it and a copied database reveals no usable cookie.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trusted_devices")
    token_hash = models.CharField(max_length=64, unique=True)
    # Keyed hash of the password hash at creation: a later password change invalidates the device.
    password_fingerprint = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"], name="trusted_device_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} on {self.user_agent or 'a browser'} until {self.expires_at:%Y-%m-%d}"


class PreLoginAttempt(models.Model):
    """The server-side half of one preLoginToken: its wrong-code counter and whether it was used."""

    jti = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prelogin_attempts")
    failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(failures__lte=TWO_FACTOR_ATTEMPTS_PER_LOGIN), name="prelogin_failures_capped"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="prelogin_expiry_idx")]

    def __str__(self) -> str:
        return f"login step {self.jti[:8]} for {self.user} ({self.failures} wrong)"


# --- Queued callbacks (issue 19; services in voiceconfig/calls/callbacks.py) ---------------------------------------


class CallbackState(models.TextChoices):
    OFFERED = "offered", "Offered to the waiting caller"  # hearing "press 1"; offered once per call
    DECLINED = "declined", "Declined: kept waiting on the line"
    WAITING = "waiting", "Waiting for its turn"  # keeps the caller's place in the queue
    RINGING_AGENT = "ringing_agent", "Ringing the agent"  # an agent is reserved and rung first
    DIALING = "dialing", "Dialling the customer"  # the agent answered; the customer is dialled in
    COMPLETED = "completed", "Customer answered"
    FAILED = "failed", "No answer after every attempt"
    CANCELED = "canceled", "Canceled"


# A callback in these states holds an agent: the database lets an agent hold at most one.
CALLBACK_BUSY_STATES = [CallbackState.RINGING_AGENT, CallbackState.DIALING]


class Callback(models.Model):
    """A caller who pressed 1 to be called back: their place in the queue, attempts and outcome."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="callback")
    phone_line = models.ForeignKey(PhoneLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The department the caller waited in (the call's, else the line's default): its members call them back, by
    # its strategy and levels. Empty: the line's agents.
    department = models.ForeignKey(
        "voiceconfig.Department", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    customer_number = models.CharField(max_length=16, validators=[validate_e164])
    state = models.CharField(max_length=20, choices=CallbackState.choices, default=CallbackState.WAITING)
    # The caller's place: when they started waiting on the original call.
    queued_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times the customer was dialled")
    max_attempts = models.PositiveSmallIntegerField(default=3)
    next_attempt_at = models.DateTimeField()
    agent = models.ForeignKey(VoiceAgent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    conference_name = models.CharField(max_length=100, blank=True, default="")
    agent_call_sid = models.CharField(max_length=34, blank=True, default="")
    customer_call_sid = models.CharField(max_length=34, blank=True, default="")
    # The call row of the conversation once the customer was dialled in (outbound, with agent and line).
    outbound_call = models.ForeignKey(Call, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["queued_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=CallbackState.values), name="callback_state_valid"),
            # 0 agents with two calls: an agent holds at most one callback in progress.
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(agent__isnull=False, state__in=CALLBACK_BUSY_STATES),
                name="one_callback_per_agent",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="callback_due_idx")]

    def __str__(self) -> str:
        return f"callback to {self.customer_number} ({self.state})"


# Recordings and supervision (issue 18) live in their own module; imported here so Django registers them.
# Issue 16's models live in their own module; importing them here is how Django finds them.
from .department_models import (  # noqa: E402, F401
    BEST_LEVEL,
    Department,
    DepartmentMember,
    NoAgentsAction,
    RingOffer,
    RingOfferState,
    RingStrategy,
)
from .recording_models import (  # noqa: E402, F401
    ACTIVE_RECORDING_STATES,
    FINAL_RECORDING_STATES,
    Recording,
    RecordingState,
    Supervision,
    SupervisionMode,
    SupervisionState,
)

# Statistics' own facts (issue 17): staffed time and rings an agent let go.
from .stats_models import AgentSession, MissedRing  # noqa: E402, F401
