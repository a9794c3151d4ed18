"""Writes that span rows. Keyword-only arguments; each runs in one transaction."""

from django.db import transaction
from django.utils import timezone

from .models import AgentStatus, BusinessHours, Call, Holiday, IvrOption, PhoneLine, VoiceAgent, VoiceConfig
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


def agent_active_call(*, agent: VoiceAgent, exclude_call_id: int | None = None) -> Call | None:
    """The agent's live call, if any (ignoring one call, for when that call itself is being changed)."""
    calls = Call.objects.active().filter(agent=agent)
    if exclude_call_id is not None:
        calls = calls.exclude(pk=exclude_call_id)
    return calls.first()


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


def agent_set_status(*, agent: VoiceAgent, status: str) -> VoiceAgent:
    now = timezone.now()
    updates = {"status": status, "status_changed_at": now}
    if status == AgentStatus.AVAILABLE:
        # Going available counts as a heartbeat: the console is evidently alive.
        updates["last_heartbeat_at"] = now
    VoiceAgent.objects.filter(pk=agent.pk).update(**updates)
    for key, value in updates.items():
        setattr(agent, key, value)
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
