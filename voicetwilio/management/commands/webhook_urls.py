"""Print, for each phone line, the URLs to set on its number in Twilio (docs/webhooks.md)."""

from django.core.management.base import BaseCommand

from voiceconfig.models import PhoneLine
from voicetwilio.links import webhook_url
from voicetwilio.webhooks.fallback import fallback_url


class Command(BaseCommand):
    help = (
        "Print the voice, fallback and status-callback URLs to configure on each line's number in Twilio. "
        "Run it again after changing a line's config: the fallback URL carries the config's forward number, "
        "voicemail and voice, so that it can answer while the database is down."
    )

    def handle(self, *args, **options) -> None:
        lines = PhoneLine.objects.select_related("config").order_by("phone_number")
        if not lines:
            self.stdout.write("No phone lines yet.")
        for line in lines:
            self.stdout.write(f"{line.phone_number} ({line.name})")
            self.stdout.write(f"  A call comes in (POST):      {webhook_url('voice')}")
            self.stdout.write(f"  Primary handler fails (POST): {fallback_url(line)}")
            self.stdout.write(f"  Call status changes (POST):  {webhook_url('statuscallback')}")
