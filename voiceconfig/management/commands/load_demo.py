"""Load a small demo data set: a config, a line, two agents and an admin user (credentials in README)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from voiceconfig import services
from voiceconfig.models import IvrOption, PhoneLine, VoiceAgent, VoiceConfig

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "voice-admin-demo"
AGENT_PASSWORD = "voice-agent-demo"
DEMO_NUMBER = "+14155550100"


class Command(BaseCommand):
    help = "Create the demo config, line, agents and admin user. Safe to run again: existing rows are kept."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        if created:
            admin.set_password(ADMIN_PASSWORD)
            admin.save()

        config, _ = VoiceConfig.objects.get_or_create(
            name="Demo support",
            defaults={
                "greeting_text": "Thank you for calling Demo Support.",
                "ivr_prompt": "For sales press 1 or say sales. For support press 2 or say support.",
                "time_zone": "Europe/London",
            },
        )
        if not config.ivr_options.exists():
            IvrOption.objects.bulk_create(
                [
                    IvrOption(config=config, digit="1", keywords="sales, buy", label="sales", action="route"),
                    IvrOption(config=config, digit="2", keywords="support, help", label="support", action="route"),
                ]
            )

        agents = []
        for username, name in (("alice", "Alice Agent"), ("bob", "Bob Agent")):
            user, created = User.objects.get_or_create(username=username, defaults={"first_name": name.split()[0]})
            if created:
                user.set_password(AGENT_PASSWORD)
                user.save()
            agent = VoiceAgent.objects.filter(user=user).first() or services.agent_create(user=user, display_name=name)
            agents.append(agent)

        line, _ = PhoneLine.objects.get_or_create(
            phone_number=DEMO_NUMBER, defaults={"name": "Demo main line", "config": config}
        )
        line.agents.add(*agents)
        self.stdout.write(
            f"Demo data ready: admin {ADMIN_USERNAME}/{ADMIN_PASSWORD}, agents alice and bob/{AGENT_PASSWORD}, "
            f"line {DEMO_NUMBER}."
        )
