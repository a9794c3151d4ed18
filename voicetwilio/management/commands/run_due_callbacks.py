"""`manage.py run_due_callbacks`: ring a free agent for every callback whose turn has come.

Run it from a scheduler every few seconds (cron, a systemd timer, a Kubernetes CronJob), on one host or many:
each callback is claimed with SKIP LOCKED and moved to `ringing_agent` in the same transaction, so two runs at
once never ring for the same customer, and the `one_callback_per_agent` constraint never gives one agent two.
Idempotent: with nothing due, or nobody free, it changes nothing. No transaction is open while Twilio answers.
"""

from django.core.management.base import BaseCommand

from voicetwilio.callbacks import ring_due_callbacks


class Command(BaseCommand):
    help = "Ring free agents for due queued callbacks (safe to run on several hosts at once)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="At most this many callbacks in one run.")

    def handle(self, *args, limit: int, **options):
        rung = ring_due_callbacks(limit=limit)
        self.stdout.write(f"{rung} agent(s) rung for due callbacks.")
