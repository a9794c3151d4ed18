"""The figures of one group of calls, defined once (docs/statistics.md names the industry definition of each).

SQL returns counts, sums and maxima only (`aggregates`); the ratios and averages are worked out from them in
`finish`, so groups can be added together (two UTC pieces of one local hour) without averaging averages.
"""

from django.db.models import Count, F, Max, Q, Sum

from ..models import CallDirection

# The figures' order: the JSON row's keys and the CSV's columns.
COLUMNS = (
    "offered",
    "answered",
    "abandoned",
    "shortAbandoned",
    "voicemail",
    "afterHours",
    "transferred",
    "serviceLevel",
    "averageSpeedOfAnswer",
    "averageHandleTime",
    "averageTalkSeconds",
    "averageHoldSeconds",
    "longestWaitSeconds",
    "missed",
    "occupancy",
)
# Prefixed: an aggregate may not share a name with the Call field its filter reads (offered, voicemail, ...).
COUNTS = (
    "n_offered",
    "n_answered",
    "n_abandoned",
    "n_short_abandoned",
    "n_voicemail",
    "n_after_hours",
    "n_transferred",
)
SUMS = ("within", "handled", "wait_answered", "handle", "talk", "hold")


def aggregates(*, service_level_seconds: int, short_abandon_seconds: int) -> dict:
    """Conditional aggregates over Call rows (one pass, no Python loop over calls)."""
    offered = Q(offered=True)
    answered = offered & Q(answered_at__isnull=False)
    # Handled: an agent talked to the customer, inbound or outbound (outbound calls count in handle time only).
    handled = Q(answered_at__isnull=False)
    return {
        "n_offered": Count("id", filter=offered),
        "n_answered": Count("id", filter=answered),
        "n_abandoned": Count("id", filter=Q(abandoned=True, wait_seconds__gte=short_abandon_seconds)),
        "n_short_abandoned": Count("id", filter=Q(abandoned=True, wait_seconds__lt=short_abandon_seconds)),
        "n_voicemail": Count("id", filter=Q(voicemail=True, direction=CallDirection.INBOUND)),
        "n_after_hours": Count("id", filter=Q(after_hours=True)),
        "n_transferred": Count("id", filter=Q(transferred=True)),
        "within": Count("id", filter=answered & Q(wait_seconds__lte=service_level_seconds)),
        "wait_answered": Sum("wait_seconds", filter=answered),
        "longest": Max("wait_seconds", filter=offered),
        "handled": Count("id", filter=handled),
        # talk_seconds runs from the answer to the end, so it holds the hold time: handle = talk_seconds + wrap-up.
        "handle": Sum(F("talk_seconds") + F("wrap_up_seconds"), filter=handled),
        "talk": Sum(F("talk_seconds") - F("hold_seconds"), filter=handled),
        "hold": Sum("hold_seconds", filter=handled),
    }


def add(into: dict, group: dict) -> dict:
    """Add one aggregated group to another (the same local hour seen in two UTC hours)."""
    for key in (*COUNTS, *SUMS):
        into[key] = (into.get(key) or 0) + (group.get(key) or 0)
    longest = [value for value in (into.get("longest"), group.get("longest")) if value is not None]
    into["longest"] = max(longest) if longest else None
    return into


def _ratio(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def _average(total, count) -> float | None:
    return round((total or 0) / count, 1) if count else None


def finish(group: dict | None, *, per_agent: dict | None = None) -> dict:
    """The row's figures from its aggregates; `per_agent` ({missed, staffed}) only for agent rows."""
    g = group or {}
    count = {key[2:]: g.get(key) or 0 for key in COUNTS}
    handled = g.get("handled") or 0
    row = {
        "offered": count["offered"],
        "answered": count["answered"],
        "abandoned": count["abandoned"],
        "shortAbandoned": count["short_abandoned"],
        "voicemail": count["voicemail"],
        "afterHours": count["after_hours"],
        "transferred": count["transferred"],
        "serviceLevel": _ratio(g.get("within") or 0, count["offered"] - count["short_abandoned"]),
        "averageSpeedOfAnswer": _average(g.get("wait_answered"), count["answered"]),
        "averageHandleTime": _average(g.get("handle"), handled),
        "averageTalkSeconds": _average(g.get("talk"), handled),
        "averageHoldSeconds": _average(g.get("hold"), handled),
        "longestWaitSeconds": g.get("longest"),
        "missed": None,
        "occupancy": None,
    }
    if per_agent is not None:
        row["missed"] = per_agent.get("missed") or 0
        staffed = per_agent.get("staffed") or 0
        # Handle time can outrun staffed time (a call taken while the console missed heartbeats): capped at 1.
        row["occupancy"] = min(_ratio(g.get("handle") or 0, staffed), 1.0) if staffed else None
    return row
