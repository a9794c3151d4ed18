"""Load a small demo data set: a config, a line, two agents and an admin user (logins in README / docs/demo.md).

Safe to run any number of times (`make run` and `make demo` both run it): rows that exist are kept as they are
(a changed password or config stays changed), and the demo agents are left free: any live call on the demo line
or with a demo agent is ended, and the agents are set offline (their consoles sign them in again), so a demo call
left behind by an earlier run never blocks the next one.
"""

from datetime import date, time
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from voiceconfig import calls as call_services
from voiceconfig import services
from voiceconfig.models import (
    AgentStatus,
    BusinessHours,
    Call,
    CallStatus,
    Holiday,
    IvrOption,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
    Weekday,
)

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "voice-admin-demo"
AGENT_PASSWORD = "voice-agent-demo"
DEMO_NUMBER = "+14155550100"
# A +1 415 number is in San Francisco: the line keeps that city's hours.
DEMO_TIME_ZONE = "America/Los_Angeles"
# Sample hours a newcomer can try at any time of day: a day team and a night team (a range whose closing time is
# before its opening time runs past midnight), every day of the week. Edit them in the admin to see after-hours.
DEMO_SHIFTS = ((time(7, 0), time(19, 0)), (time(19, 0), time(7, 0)))
# The menu prompt does not list the options: the app reads each option's label once, after it.
DEMO_IVR_PROMPT = "How can we help you today? Press a key, or say what you need."

# What earlier versions loaded (a London time zone, a prompt that listed the options the app then read again).
OLD_TIME_ZONE = "Europe/London"
OLD_IVR_PROMPT = "For sales press 1 or say sales. For support press 2 or say support."


def next_christmas(today: date) -> date:
    """The sample holiday: the next Christmas Day after today (never today, so the demo line is open now)."""
    this_year = date(today.year, 12, 25)
    return this_year if this_year > today else date(today.year + 1, 12, 25)


class Command(BaseCommand):
    help = (
        "Create the demo config, line, agents and admin user, and leave the demo agents free (no live call). "
        "Safe to run again: existing rows are kept."
    )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        if created:
            admin.set_password(ADMIN_PASSWORD)
            admin.save()

        config = self.demo_config()
        agents = []
        for username, name in (("alice", "Alice Agent"), ("bob", "Bob Agent")):
            user, created = User.objects.get_or_create(username=username, defaults={"first_name": name.split()[0]})
            if created:
                user.set_password(AGENT_PASSWORD)
                user.save()
            agent = VoiceAgent.objects.filter(user=user).first() or services.agent_create(user=user, display_name=name)
            agents.append(agent)
        # Bob is also the demo's team lead: he may listen to, whisper on and barge into calls (docs/recording.md).
        User.objects.get(username="bob").user_permissions.add(Permission.objects.get(codename="supervise_call"))

        line, _ = PhoneLine.objects.get_or_create(
            phone_number=DEMO_NUMBER, defaults={"name": "Demo main line", "config": config}
        )
        line.agents.add(*agents)
        ended = self.free_agents(line=line, agents=agents)
        self.stdout.write(
            f"Demo data ready: admin {ADMIN_USERNAME}/{ADMIN_PASSWORD}, agents alice and bob/{AGENT_PASSWORD}, "
            f"line {DEMO_NUMBER}." + (f" Ended {ended} live demo call(s) left by an earlier run." if ended else "")
        )

    @staticmethod
    def demo_config() -> VoiceConfig:
        config, _ = VoiceConfig.objects.get_or_create(
            name="Demo support",
            defaults={
                "greeting_text": "Thank you for calling Demo Support.",
                "ivr_prompt": DEMO_IVR_PROMPT,
                "time_zone": DEMO_TIME_ZONE,
            },
        )
        # Demo data loaded by an earlier version, never edited since: bring it to today's demo.
        if config.time_zone == OLD_TIME_ZONE and config.ivr_prompt == OLD_IVR_PROMPT:
            VoiceConfig.objects.filter(pk=config.pk).update(time_zone=DEMO_TIME_ZONE, ivr_prompt=DEMO_IVR_PROMPT)
            for label in ("sales", "support"):
                config.ivr_options.filter(label=label).update(label=f"for {label}")
        if not config.ivr_options.exists():
            IvrOption.objects.bulk_create(
                [
                    IvrOption(config=config, digit="1", keywords="sales, buy", label="for sales", action="route"),
                    IvrOption(config=config, digit="2", keywords="support, help", label="for support", action="route"),
                ]
            )
        if not config.business_hours.exists():
            BusinessHours.objects.bulk_create(
                BusinessHours(config=config, weekday=day, opens_at=opens, closes_at=closes)
                for day in Weekday.values
                for opens, closes in DEMO_SHIFTS
            )
        if not config.holidays.exists():
            today = timezone.localdate(timezone=ZoneInfo(DEMO_TIME_ZONE))
            Holiday.objects.create(config=config, date=next_christmas(today), name="Christmas Day")
        return config

    @staticmethod
    def free_agents(*, line: PhoneLine, agents: list[VoiceAgent]) -> int:
        """End every live call on the demo line or with a demo agent, then set the demo agents offline.

        A call is ended the way Twilio's final status callback ends it (the call services' state machine: stage,
        durations, the agent's wrap-up, a call-log row saying why), not by editing its columns. The caller's leg
        at Twilio, if any is still up, ends by itself (the emulator's callers hang up after a while); its late
        callbacks then change nothing, since a completed call stays completed.
        """
        live = Call.objects.active().filter(Q(phone_line=line) | Q(agent__in=agents)).values_list("call_sid", flat=True)
        ended = 0
        for call_sid in list(live):
            call_services.call_apply_status(
                call_sid=call_sid,
                status=CallStatus.COMPLETED,
                data={"source": "load_demo", "reason": "the demo data was loaded again"},
            )
            ended += 1
        # Not on any call any more, and no console signed in yet: offline until each console says otherwise.
        VoiceAgent.objects.filter(pk__in=[agent.pk for agent in agents]).exclude(status=AgentStatus.OFFLINE).update(
            status=AgentStatus.OFFLINE, status_changed_at=timezone.now(), wrap_up_until=None
        )
        return ended
