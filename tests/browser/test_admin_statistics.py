"""The admin's statistics page in Chromium, against the real statistics endpoints on a small call history built by
hand: the figures in its tables are the seeded truth, Chart.js (served by us) drew both charts from the same rows,
the department filter is a shareable URL, and nothing breaks the Content-Security-Policy. Also what a manager sees
when the endpoints refuse the filters, and when Chart.js is not installed.

The screenshot goes to a temporary folder; `VOICE_SCREENSHOTS_DIR=docs pytest tests/browser/test_admin_statistics.py`
refreshes docs/admin-statistics.png.
"""

import itertools
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.browser.conftest import ROOT, admin_login
from tests.conftest import make_user
from voiceconfig import services
from voiceconfig.models import (
    AgentSession,
    AgentStatus,
    Call,
    CallStage,
    CallStatus,
    Department,
    MissedRing,
    VoiceAgent,
    VoiceConfig,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHART_BUNDLE = ROOT / "static" / "vendor" / "chartjs" / "chart.umd.min.js"
PAGE = "/admin/voice/statistics/"
RANGE = {"from": "2026-11-10", "to": "2026-11-11"}
_sids = itertools.count(1)


@pytest.fixture(scope="session")
def chart_assets() -> Path:
    """Chart.js as `make console-assets` copies it from node_modules, copied here when node_modules has it."""
    if not CHART_BUNDLE.exists() and (ROOT / "node_modules" / "chart.js").exists():
        subprocess.run(["node", "scripts/console-assets.mjs"], cwd=ROOT, check=True, capture_output=True)
    if not CHART_BUNDLE.exists():
        pytest.fail("static/vendor/chartjs is missing: run `npm ci` then `make console-assets`")
    return CHART_BUNDLE


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def call(started: datetime, **fields) -> Call:
    defaults = {
        "call_sid": f"CA{next(_sids):032x}",
        "status": CallStatus.COMPLETED,
        "stage": CallStage.CONNECTED,
        "started_at": started,
        "queued_at": started,
        "ended_at": started + timedelta(minutes=5),
        "offered": True,
    }
    return Call.objects.create(**{**defaults, **fields})


def answered(started: datetime, agent: VoiceAgent, department: Department, *, wait: int, talk: int) -> Call:
    return call(
        started,
        agent=agent,
        department=department,
        answered_at=started + timedelta(seconds=wait),
        wait_seconds=wait,
        talk_seconds=talk,
        wrap_up_seconds=20,
    )


def hung_up(started: datetime, department: Department, *, wait: int) -> Call:
    return call(started, department=department, stage=CallStage.ABANDONED, abandoned=True, wait_seconds=wait)


def agent(username: str, name: str) -> VoiceAgent:
    return services.agent_create(user=make_user(username), display_name=name)


@pytest.fixture
def history(transactional_db) -> dict:
    """Two days in Paris, Tue 10 and Wed 11 Nov 2026, and a floor today.

    Offered 7 (5 on the 10th, 2 on the 11th): answered 4 (waits 10, 30, 5, 8 s: three within 20 s), abandoned 2
    after 40 and 25 s, one short abandon after 3 s (on the 10th). Service level 3 / (7 - 1) = 50.0 %; abandonment
    2 / 6 = 33.3 %. Alice answered 3, Bob 1 and missed a ring. On the 10th, 09:00-10:00, 2 offered and 2 answered.
    Support had one call, answered by Alice.
    """
    make_user("manager", staff=True)
    VoiceConfig.objects.create(name="Customer support", time_zone="Europe/Paris")
    sales = Department.objects.create(name="Sales", time_zone="Europe/Paris")
    support = Department.objects.create(name="Support", time_zone="Europe/Paris")
    alice, bob = agent("alice", "Alice Martin"), agent("bob", "Bob Okafor")
    answered(at("2026-11-10T09:00+01:00"), alice, sales, wait=10, talk=100)
    answered(at("2026-11-10T09:10+01:00"), bob, sales, wait=30, talk=200)
    short = hung_up(at("2026-11-10T10:00+01:00"), sales, wait=3)
    hung_up(at("2026-11-10T10:05+01:00"), sales, wait=40)
    answered(at("2026-11-10T14:00+01:00"), alice, support, wait=5, talk=60)
    answered(at("2026-11-11T09:30+01:00"), alice, sales, wait=8, talk=120)
    hung_up(at("2026-11-11T11:00+01:00"), sales, wait=25)
    MissedRing.objects.create(agent=bob, call=short, at=at("2026-11-10T10:00:02+01:00"))
    AgentSession.objects.create(
        agent=alice, started_at=at("2026-11-10T09:00+01:00"), ended_at=at("2026-11-10T17:00+01:00")
    )
    # Now: Alice available with her console open, one caller waiting for Sales.
    now = timezone.now()
    VoiceAgent.objects.filter(pk=alice.pk).update(status=AgentStatus.AVAILABLE, last_heartbeat_at=now)
    call(
        now - timedelta(seconds=30),
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.QUEUED,
        department=sales,
        ended_at=None,
        offered=False,
    )
    return {"sales": sales, "support": support}


def cell(page, table: str, key: str, column: int) -> str:
    """The text of a table's row (by its key) and column (0: the row header)."""
    return page.locator(f"#{table} tbody tr[data-key='{key}'] > *").nth(column).text_content().strip()


def drawn_pixels(page, canvas: str) -> int:
    """How many pixels of the canvas are not transparent: zero for a chart that never drew."""
    return page.evaluate(
        """(id) => { const c = document.getElementById(id);
                     const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                     let n = 0; for (let i = 3; i < data.length; i += 4) if (data[i]) n++; return n; }""",
        canvas,
    )


def test_screenshots_of_the_dashboard_show_the_seeded_figures_drawn(history, open_page, chart_assets, tmp_path):
    page, watch = open_page(viewport={"width": 1280, "height": 900})
    admin_login(page, "manager")
    page.goto(f"{PAGE}?from={RANGE['from']}&to={RANGE['to']}")
    page.wait_for_selector("#voice-statistics[data-state=ready]")

    totals = {key: page.text_content(f"[data-total={key}]") for key in ("offered", "answered", "serviceLevel")}
    assert totals == {"offered": "7", "answered": "4", "serviceLevel": "50.0 %"}
    assert page.text_content("[data-total=abandonment]") == "33.3 %"
    # Two days: the volume chart is per hour, keyed by the local hour with its offset.
    assert page.text_content("#chart-volume-title") == "Calls offered and answered per hour"
    assert [cell(page, "table-volume", "2026-11-10T09:00+01:00", n) for n in (1, 2, 3)] == ["2", "2", "0"]
    assert [cell(page, "table-quality", "2026-11-10", n) for n in (1, 2, 3, 4, 5)] == ["5", "3", "50.0 %", "1", "1"]
    assert cell(page, "stats-agents", str(VoiceAgent.objects.get(user__username="alice").pk), 1) == "3"
    bob = str(VoiceAgent.objects.get(user__username="bob").pk)
    assert [cell(page, "stats-agents", bob, n) for n in (0, 1, 2)] == ["Bob Okafor", "1", "1"]
    # The calls nobody answered are their own row; only the last row reads (bold) as the total.
    assert cell(page, "stats-agents", "none", 0) == "No agent"
    assert page.locator("#stats-agents tbody tr[data-key='total']").count() == 1
    # Live: the caller waiting for Sales now, Alice available.
    sales = str(history["sales"].pk)
    assert [cell(page, "stats-live", sales, n) for n in (0, 1)] == ["Sales", "1"]
    assert cell(page, "stats-live", "total", 4) == "1"

    # Chart.js came from this server and drew both charts from the same rows.
    assert page.evaluate("() => window.Chart.version") == "4.6.1"
    volume = page.evaluate(
        "() => Chart.getChart('chart-volume').data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0))"
    )
    assert volume == [7, 4]
    assert page.evaluate("() => Chart.getChart('chart-volume').data.labels.length") == 48
    quality = page.evaluate("() => Chart.getChart('chart-quality').data.datasets.map((d) => d.data)")
    # Service level, then abandonment, per day in %: the 10th 2/4 and 1/4, the 11th 1/2 and 1/2.
    assert quality == [[50, 50], [25, 50]]
    assert drawn_pixels(page, "chart-volume") > 1000 and drawn_pixels(page, "chart-quality") > 1000
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    out = Path(os.environ.get("VOICE_SCREENSHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "admin-statistics.png"), full_page=True)

    # The department filter is a GET form: a shareable URL, and only Support's call counted.
    page.select_option("#stats-department", label="Support")
    page.click(".voice-stats-filters input[type=submit]")
    page.wait_for_selector("#voice-statistics[data-state=ready]")
    assert f"department={history['support'].pk}" in page.url and "from=2026-11-10" in page.url
    assert page.text_content("[data-total=offered]") == "1"
    assert page.locator("#stats-live tbody tr").count() == 2  # Support and the total
    watch.assert_clean()  # no CSP violation, console error or failed request


def test_a_bad_filter_gets_the_apis_message_on_the_page(history, open_page, chart_assets):
    page, watch = open_page()
    watch.expect_failure(400, r"^/voiceconfig/stats/summary$")
    admin_login(page, "manager")
    page.goto(f"{PAGE}?from=2026-11-12&to=2026-11-10")
    page.wait_for_selector("#voice-statistics[data-state=error]")
    message = page.locator("#stats-message")
    assert message.get_attribute("role") == "alert"
    assert "Could not read the figures" in message.text_content() and "from" in message.text_content()


def test_without_chart_js_the_tables_carry_the_figures(history, open_page, chart_assets):
    page, watch = open_page()
    # As when `make console-assets` has not copied Chart.js: the script loads but defines nothing.
    page.route(
        "**/static/vendor/chartjs/chart.umd.min.js",
        lambda route: route.fulfill(body="", content_type="text/javascript"),
    )
    admin_login(page, "manager")
    page.goto(f"{PAGE}?from={RANGE['from']}&to={RANGE['to']}")
    page.wait_for_selector("#voice-statistics[data-state=ready]")
    assert "Charts are not installed" in page.text_content("#stats-message")
    assert page.evaluate("() => [...document.querySelectorAll('details.voice-chart-table')].every((d) => d.open)")
    assert page.is_visible("#table-quality tbody tr[data-key='2026-11-10']")
    assert cell(page, "table-quality", "total", 3) == "50.0 %"


def test_a_long_range_is_charted_per_day(history, open_page, chart_assets):
    page, watch = open_page()
    admin_login(page, "manager")
    page.goto(f"{PAGE}?from=2026-11-01&to=2026-11-30")
    page.wait_for_selector("#voice-statistics[data-state=ready]")
    assert page.text_content("#chart-volume-title") == "Calls offered and answered per day"
    assert page.evaluate("() => Chart.getChart('chart-volume').data.labels.length") == 30
    assert [cell(page, "table-volume", "2026-11-10", n) for n in (0, 1, 2)] == ["Tue 10 Nov", "5", "3"]
    assert cell(page, "table-volume", "total", 1) == "7"
