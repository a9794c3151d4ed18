"""Departments (issue 16): the queues callers wait in, who answers them, and how a member is chosen.

Imported at the end of models.py, so Django finds these models in the app's models module.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .validators import validate_e164, validate_time_zone

BEST_LEVEL, WORST_LEVEL = 1, 9


class RingStrategy(models.TextChoices):
    LONGEST_IDLE = "longest-idle", "Longest idle"
    ROUND_ROBIN = "round-robin", "Round robin (remembers the last agent)"
    FEWEST_CALLS = "fewest-calls", "Fewest calls answered today"
    LEAST_TALK_TIME = "least-talk-time", "Least talk time today"
    LINEAR = "linear", "Linear (members in their listed order)"
    RANDOM = "random", "Random"
    RING_ALL = "ring-all", "Ring all"


class NoAgentsAction(models.TextChoices):
    WAIT = "wait", "Keep waiting"
    VOICEMAIL = "voicemail", "Take a voicemail"
    MESSAGE = "message", "Play a message and hang up"
    FORWARD = "forward", "Forward to a phone number"


class Department(models.Model):
    """A queue: callers wait in it, its members answer them, its strategy picks which member rings."""

    name = models.CharField(max_length=100, unique=True)
    strategy = models.CharField(max_length=20, choices=RingStrategy.choices, default=RingStrategy.LONGEST_IDLE)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="Where 'today' starts (fewest-calls)"
    )
    max_wait_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Past this wait the caller meets the no-agents action; empty: the config's"
    )
    max_callers = models.PositiveIntegerField(
        null=True, blank=True, help_text="A caller arriving when this many wait meets the no-agents action"
    )
    overflow_department = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="overflow_from"
    )
    overflow_after_seconds = models.PositiveIntegerField(null=True, blank=True)
    widen_after_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Each time this passes, the next member level joins; empty: all levels at once"
    )
    announce_position = models.BooleanField(default=False)
    hold_music_url = models.URLField(blank=True, default="")
    no_agents_action = models.CharField(max_length=20, choices=NoAgentsAction.choices, default=NoAgentsAction.WAIT)
    no_agents_message = models.CharField(max_length=1000, blank=True, default="")
    no_agents_forward_to = models.CharField(max_length=16, blank=True, default="", validators=[validate_e164])
    # round-robin's memory: the member rung last. Written with each reservation, in its transaction.
    last_agent = models.ForeignKey(
        "voiceconfig.VoiceAgent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agents = models.ManyToManyField(
        "voiceconfig.VoiceAgent", through="DepartmentMember", related_name="departments", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(strategy__in=RingStrategy.values), name="department_strategy_valid"),
            models.CheckConstraint(
                condition=Q(no_agents_action__in=NoAgentsAction.values), name="department_no_agents_action_valid"
            ),
            models.CheckConstraint(
                condition=~Q(no_agents_action=NoAgentsAction.FORWARD) | ~Q(no_agents_forward_to=""),
                name="department_forward_needs_number",
            ),
            models.CheckConstraint(
                condition=Q(overflow_department__isnull=True) | ~Q(overflow_department=models.F("pk")),
                name="department_no_overflow_to_itself",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DepartmentMember(models.Model):
    """An agent in a department at a level (1 best); `position` is the listed order (linear, round-robin)."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="members")
    agent = models.ForeignKey("voiceconfig.VoiceAgent", on_delete=models.CASCADE, related_name="memberships")
    level = models.PositiveSmallIntegerField(
        default=BEST_LEVEL, validators=[MinValueValidator(BEST_LEVEL), MaxValueValidator(WORST_LEVEL)]
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["department_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["department", "agent"], name="department_member_unique_agent"),
            models.CheckConstraint(
                condition=Q(level__gte=BEST_LEVEL, level__lte=WORST_LEVEL), name="department_member_level_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} in {self.department} (level {self.level})"


class RingOfferState(models.TextChoices):
    RINGING = "ringing", "Ringing"
    ANSWERED = "answered", "Answered: this agent got the caller"
    CANCELLED = "cancelled", "Cancelled: someone else answered, or the caller left"
    MISSED = "missed", "Not answered (no-answer, busy, failed)"
    LOST = "lost", "Answered after someone else"


class RingOffer(models.Model):
    """One leg of a `ring-all` department ringing one member for one waiting caller (issue 16).

    Every free member is rung at once, one offer each; the call keeps no agent until one answers (the leg webhook
    decides the winner under the call's row lock, calls/ringall.py). An agent has at most one live offer, and an
    agent with one is `ringing`, so no other call is offered to them meanwhile.
    """

    call = models.ForeignKey("voiceconfig.Call", on_delete=models.CASCADE, related_name="ring_offers")
    agent = models.ForeignKey("voiceconfig.VoiceAgent", on_delete=models.CASCADE, related_name="ring_offers")
    leg_call_sid = models.CharField(max_length=64, blank=True, default="")
    state = models.CharField(max_length=12, choices=RingOfferState.choices, default=RingOfferState.RINGING)
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=RingOfferState.values), name="ring_offer_state_valid"),
            models.UniqueConstraint(
                fields=["agent"], condition=Q(state=RingOfferState.RINGING), name="one_live_ring_offer_per_agent"
            ),
        ]
        indexes = [
            models.Index(fields=["call"], condition=Q(state=RingOfferState.RINGING), name="ring_offer_live_by_call")
        ]

    def __str__(self) -> str:
        return f"offer of call {self.call_id} to agent {self.agent_id} ({self.state})"
