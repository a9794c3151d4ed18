"""Writes that span rows of the configuration and agents. Keyword-only arguments; each runs in one transaction.

Calls, call logs, transfers and agent availability are written by voiceconfig.calls only."""

from django.db import transaction
from django.utils import timezone

from .models import AgentStatus, BusinessHours, Holiday, IvrOption, PhoneLine, VoiceAgent, VoiceConfig
from .validators import identity_from_username


class StateConflict(Exception):
    """The current state of a row forbids the change (the API answers 409)."""


@transaction.atomic
def config_replace_children(
    *,
    config: VoiceConfig,
    business_hours: list[dict] | None = None,
    holidays: list[dict] | None = None,
    ivr_options: list[dict] | None = None,
) -> None:
    """Replace whichever nested lists were given; None leaves that list as stored."""
    for model, rows in ((BusinessHours, business_hours), (Holiday, holidays), (IvrOption, ivr_options)):
        if rows is None:
            continue
        model.objects.filter(config=config).delete()
        model.objects.bulk_create([model(config=config, **row) for row in rows])


@transaction.atomic
def config_delete(*, config: VoiceConfig) -> None:
    """Delete a config no line uses. A line's config is PROTECTed too, so a line added meanwhile still blocks it."""
    names = list(config.phone_lines.order_by("name").values_list("name", flat=True)[:6])
    if names:
        listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise StateConflict(
            f"Config {config.name!r} is used by phone line(s) {listed}; give them another config before deleting it."
        )
    config.delete()


def _unique_identity(base: str) -> str:
    identity, n = base, 1
    while VoiceAgent.objects.filter(identity=identity).exists():
        n += 1
        suffix = f"_{n}"
        identity = base[: 121 - len(suffix)] + suffix
    return identity


@transaction.atomic
def agent_create(*, user, identity: str | None = None, display_name: str = "", status: str | None = None) -> VoiceAgent:
    agent = VoiceAgent(
        user=user,
        identity=identity or _unique_identity(identity_from_username(user.username)),
        display_name=display_name or user.get_full_name() or user.username,
        status=status or AgentStatus.OFFLINE,
        status_changed_at=timezone.now(),
    )
    agent.full_clean(validate_unique=False)
    agent.save()
    return agent


@transaction.atomic
def agent_delete(*, agent: VoiceAgent) -> None:
    locked = VoiceAgent.objects.select_for_update().get(pk=agent.pk)
    if locked.calls.active().exists():
        raise StateConflict(f"Agent {locked} is on a live call; wait for it to end before deleting the agent.")
    locked.delete()


def line_record_twilio_sid(*, line_id: int, sid: str) -> bool:
    """Store the SID Twilio gave the line's number (the sync, after Twilio answered). True when it changed."""
    return bool(PhoneLine.objects.filter(pk=line_id).exclude(twilio_sid=sid).update(twilio_sid=sid))


def line_number_released(*, line_id: int) -> None:
    """The line's number left the Twilio account: the line can no longer take calls and forgets the SID."""
    PhoneLine.objects.filter(pk=line_id).update(enabled=False, twilio_sid="")
