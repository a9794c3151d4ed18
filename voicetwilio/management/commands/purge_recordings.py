"""Delete recordings past their line's retention (VoiceConfig.recording_retention_days), at Twilio then here.

Idempotent: a recording Twilio no longer has counts as deleted there; running it again finds nothing to do. A
Twilio failure leaves that row for the next run (and the command exits 1), never a row without its audio gone.
"""

from django.core.management.base import BaseCommand, CommandError

from voiceconfig import calls as call_services
from voicetwilio import gateway


class Command(BaseCommand):
    help = "Delete recordings older than their config's retention, at Twilio and in the database."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted; delete nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        expired = call_services.recordings_past_retention()
        deleted = failed = 0
        for row in expired:
            label = row.recording_sid or f"recording {row.pk}"
            if dry_run:
                self.stdout.write(f"would delete {label} of call {row.call.call_sid}")
                continue
            try:
                if row.recording_sid:
                    gateway.delete_recording(recording_sid=row.recording_sid)
            except gateway.GatewayError as exc:
                failed += 1
                self.stderr.write(f"kept {label}: {exc.message}")
                continue
            if call_services.recording_forget(recording_id=row.pk, reason="past the line's retention"):
                deleted += 1
        self.stdout.write(f"{deleted} recording(s) deleted, {failed} kept after a Twilio failure.")
        if failed:
            raise CommandError(f"{failed} recording(s) could not be deleted at Twilio; run again later.")
