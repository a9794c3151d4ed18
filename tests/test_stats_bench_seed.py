"""The statistics benchmark's seed (bench/stats.py), at 10,000 calls: its SQL still fits the Call table, and the
summary counts exactly the calls it wrote. CI runs this; never the 1,000,000-call seed."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from bench import stats as bench_stats
from voiceconfig.models import Call, MissedRing

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_ten_thousand_seeded_calls_are_counted_exactly(client, capsys):
    bench_stats.seed(10_000, 20, vacuum=False)
    assert "seeded 10,000 calls over 20 days" in capsys.readouterr().out
    client.force_login(get_user_model().objects.get(username="boss"))
    today = timezone.now().astimezone(ZoneInfo("Europe/Paris")).date()  # the seeded config's zone
    body = client.get(
        "/voiceconfig/stats/summary",
        {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat(), "groupBy": "agent"},
    ).json()
    seeded = Call.objects.exclude(call_sid__startswith="CB")  # the 200 callers waiting now are not finished calls
    total = body["total"]
    assert total["offered"] == seeded.filter(offered=True).count()
    assert total["answered"] == seeded.filter(offered=True, answered_at__isnull=False).count()
    assert total["afterHours"] == seeded.filter(after_hours=True).count() > 0
    assert total["missed"] == MissedRing.objects.count() > 0
    assert len(body["rows"]) == bench_stats.AGENTS + 1  # every agent, and the calls nobody answered
    assert 0 < total["occupancy"] <= 1
    live = client.get("/voiceconfig/stats/live").json()
    assert live["total"]["callersWaiting"] == bench_stats.WAITING
