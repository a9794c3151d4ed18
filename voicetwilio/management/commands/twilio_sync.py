"""`manage.py twilio_sync`: point every line's number, and the softphone's TwiML application, at us again.

Idempotent: on an account already in sync it sends no update and prints that nothing changed. Safe on several
hosts at once: on PostgreSQL a session advisory lock lets one run at a time (the others say so and stop), and
no transaction is open while Twilio answers (one listing, then one update per drifted number, then one short
write per changed SID). Exits 1 when something needs a person: a line's number is not on the account, or the
TwiML application named by TWILIO_TWIML_APP_SID does not exist.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from voiceconfig import services
from voiceconfig.models import PhoneLine
from voicetwilio import gateway
from voicetwilio.provisioning import (
    answered_by_application,
    check_application,
    drifts,
    numbers_by_phone_number,
    wanted_urls,
)

# pg_try_advisory_lock key: "twilio_sync" as a fixed 63-bit number, shared by every host of the deployment.
ADVISORY_LOCK_KEY = 0x7477_696C_696F_7379


@contextmanager
def only_one_run() -> Iterator[bool]:
    """True when this run holds the deployment-wide lock (always on SQLite: one host, nothing to share)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


class Command(BaseCommand):
    help = (
        "Re-apply every phone line's Twilio configuration (VoiceUrl, VoiceFallbackUrl, StatusCallback on its "
        "number; the number's SID on the line) and check or create the softphone's TwiML application. Prints each "
        "change; changes nothing on an account already in sync."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")

    def handle(self, *args, dry_run: bool = False, **options):
        with only_one_run() as held:
            if not held:
                self.stdout.write("Another twilio_sync is running on this deployment; nothing done.")
                return
            try:
                problems, changes = self._sync(dry_run=dry_run)
            except gateway.GatewayError as exc:
                raise CommandError(exc.message) from exc
        if not changes and not problems:
            self.stdout.write("Nothing to change: every line and the TwiML application are in sync.")
        if problems:
            raise CommandError(f"{len(problems)} problem(s) need a person: " + " ".join(problems))

    def _sync(self, *, dry_run: bool) -> tuple[list[str], int]:
        verb = "would change" if dry_run else "changed"
        problems: list[str] = []
        changes = 0
        numbers = numbers_by_phone_number()
        for line in PhoneLine.objects.select_related("config").order_by("id"):
            wanted = wanted_urls(line)
            label = f"{line.phone_number} ({line.name})"
            number = numbers.get(line.phone_number)
            if number is None:
                self.stderr.write(f"{label}: not one of the Twilio account's numbers")
                problems.append(f"{line.phone_number} is not on the account.")
                continue
            if number.voice_application_sid:
                problem = str(answered_by_application(number))
                self.stderr.write(f"{label}: {problem}")
                problems.append(problem)
                continue
            found = drifts(number, wanted)
            if found:
                changes += 1
                self.stdout.write(f"{label}: {verb} " + "; ".join(str(drift) for drift in found))
                if not dry_run:
                    gateway.configure_incoming_number(sid=number.sid, urls=wanted)
            if line.twilio_sid != number.sid:
                changes += 1
                self.stdout.write(
                    f"{label}: {verb} the line's number SID {line.twilio_sid or '(empty)'} -> {number.sid}"
                )
                if not dry_run:
                    services.line_record_twilio_sid(line_id=line.pk, sid=number.sid)
        app = check_application(repair=not dry_run)
        if not app.ok:
            self.stderr.write(app.message)
            problems.append(app.message)
        elif app.message:
            changes += 1
            self.stdout.write(app.message)
        if not settings.TWILIO_WEBHOOK_BASE_URL:
            self.stderr.write(f"TWILIO_WEBHOOK_BASE_URL is empty: the numbers point at {wanted.voice_url}.")
        return problems, changes
