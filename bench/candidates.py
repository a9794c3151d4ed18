"""Measure proposed optimisations of the webhooks before anyone edits the code: a WSGI app with them patched in.

    BENCH_WSGI_APP=bench.candidates:application make bench            # every candidate
    BENCH_CANDIDATES=status_without_join BENCH_WSGI_APP=... make bench  # some of them

A measurement aid only, never deployed. Each candidate rewrites one named function from its current source with
exact text replacements; when that text has changed (the candidate was applied, or the code moved on) it stops
with an AssertionError naming the text, rather than measuring something else. The figures it gave are in the
README, "Performance and resilience".
"""

import inspect
import os
from collections.abc import Callable

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from voice_project.wsgi import application  # noqa: F401 - gunicorn serves this; importing it sets Django up
from voiceconfig import calls
from voiceconfig.models import AgentStatus, BusinessHours, Holiday, IvrOption, VoiceAgent
from voicetwilio.webhooks import flow


def _rewrite(module, func: Callable, replacements: list[tuple[str, str]], *, atomic: bool = False) -> Callable:
    source = inspect.getsource(getattr(func, "__wrapped__", func))
    for old, new in replacements:
        assert old in source, f"{func.__name__} no longer contains: {old!r}"
        source = source.replace(old, new)
    namespace = dict(vars(module))
    namespace.update(
        Exists=Exists, OuterRef=OuterRef, BusinessHours=BusinessHours, Holiday=Holiday, IvrOption=IvrOption
    )
    exec(source, namespace)  # the project's own source, rewritten above
    rewritten = namespace[func.__name__]
    return transaction.atomic(rewritten) if atomic else rewritten


def status_without_join() -> None:
    """call_apply_status: lock the call without joining phone_line and config (loaded lazily when needed)."""
    calls.call_apply_status = _rewrite(
        calls,
        calls.call_apply_status,
        [
            (
                '        Call.objects.select_for_update(of=("self",))\n        .select_related("phone_line__config")',
                "        Call.objects.select_for_update()",
            )
        ],
        atomic=True,
    )


def probe_for_an_available_agent() -> None:
    """call_match_agent: one cheap indexed query for any available agent before the locking query."""
    original = calls.call_match_agent

    def call_match_agent(*, line, exclude_agent_ids=()):
        now = timezone.now()
        anyone = VoiceAgent.objects.filter(
            Q(status=AgentStatus.AVAILABLE) | Q(status=AgentStatus.WRAP_UP, wrap_up_until__lte=now),
            last_heartbeat_at__gte=calls.heartbeat_cutoff(now),
        )
        if not anyone.exists():
            return None
        return original(line=line, exclude_agent_ids=exclude_agent_ids)

    calls.call_match_agent = call_match_agent


def skip_empty_config_lists() -> None:
    """flow.incoming: the line lookup says whether hours, holidays and IVR options exist; query only those."""
    flow.incoming = _rewrite(
        flow,
        flow.incoming,
        [
            (
                'PhoneLine.objects.select_related("config").filter(phone_number=to_number).first()',
                'PhoneLine.objects.select_related("config").annotate('
                'has_hours=Exists(BusinessHours.objects.filter(config=OuterRef("config"))), '
                'has_holidays=Exists(Holiday.objects.filter(config=OuterRef("config"))), '
                'has_options=Exists(IvrOption.objects.filter(config=OuterRef("config")))'
                ").filter(phone_number=to_number).first()",
            ),
            (
                "if not hours.is_open(config=config, at=timezone.now()):",
                "if (line.has_hours or line.has_holidays) and not hours.is_open(config=config, at=timezone.now()):",
            ),
            (
                "options = list(config.ivr_options.all())",
                "options = list(config.ivr_options.all()) if line.has_options else []",
            ),
        ],
    )


def insert_call_in_autocommit() -> None:
    """call_start: outside a transaction the INSERT needs no atomic() (no BEGIN/COMMIT round trips)."""
    original = calls.call_start
    plain = _rewrite(
        calls,
        original,
        [
            (
                "        with transaction.atomic():\n            call = Call.objects.create(",
                "        if True:\n            call = Call.objects.create(",
            )
        ],
    )

    def call_start(**kwargs):
        return original(**kwargs) if transaction.get_connection().in_atomic_block else plain(**kwargs)

    calls.call_start = call_start


CANDIDATES = {
    "status_without_join": status_without_join,
    "probe_for_an_available_agent": probe_for_an_available_agent,
    "skip_empty_config_lists": skip_empty_config_lists,
    "insert_call_in_autocommit": insert_call_in_autocommit,
}
for _name in (os.environ.get("BENCH_CANDIDATES") or ",".join(CANDIDATES)).split(","):
    CANDIDATES[_name.strip()]()
