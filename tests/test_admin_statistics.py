"""The admin's statistics page (issue 17) through Django's test client: who may open it, where it is linked from,
and that its filters reach the statistics endpoints unchanged. What it draws is tested in a browser
(tests/browser/test_admin_statistics.py)."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import make_user
from voiceconfig import admin_statistics
from voiceconfig.models import Department

PAGE = "/admin/voice/statistics/"


@pytest.fixture
def manager(db) -> Client:
    client = Client()
    client.force_login(make_user("manager", staff=True))
    return client


def attribute(html: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return unescape(match.group(1))


def test_the_page_is_at_its_admin_url():
    assert reverse("voice-statistics") == PAGE


def test_a_manager_gets_the_page_with_its_filters_tables_and_charts(manager):
    response = manager.get(PAGE)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "<title>Statistics | Voice administration</title>" in html
    for element in ('name="from"', 'name="to"', 'name="department"', 'id="stats-live"', 'id="chart-volume"'):
        assert element in html
    assert 'id="chart-quality"' in html and 'id="stats-agents"' in html
    # No filter: the endpoints' own defaults (the last 7 days, every department).
    assert attribute(html, "data-summary-url") == "/voiceconfig/stats/summary"
    assert attribute(html, "data-live-url") == "/voiceconfig/stats/live"
    # Each chart has its figures as a table, named for assistive technology.
    assert 'aria-describedby="chart-volume-alt"' in html and 'id="chart-volume-alt"' in html
    assert 'aria-describedby="chart-quality-alt"' in html and 'id="chart-quality-alt"' in html


def test_the_filters_reach_the_endpoints_and_stay_in_the_form(manager):
    sales = Department.objects.create(name="Sales")
    Department.objects.create(name="Billing")
    html = manager.get(PAGE, {"from": "2026-11-01", "to": "2026-11-30", "department": str(sales.pk)}).content.decode()
    assert attribute(html, "data-summary-url") == (
        f"/voiceconfig/stats/summary?from=2026-11-01&to=2026-11-30&department={sales.pk}"
    )
    # Live figures are today's: only the department applies.
    assert attribute(html, "data-live-url") == f"/voiceconfig/stats/live?department={sales.pk}"
    assert 'name="from" id="stats-from" value="2026-11-01"' in html
    assert 'name="to" id="stats-to" value="2026-11-30"' in html
    assert f'<option value="{sales.pk}" selected>Sales</option>' in html
    assert re.search(r'<option value="\d+">Billing</option>', html)
    # The figures without any script: the same endpoints as CSV, with the same filters.
    assert (
        f'href="/voiceconfig/stats/summary?from=2026-11-01&amp;to=2026-11-30&amp;department={sales.pk}'
        '&amp;groupBy=agent&amp;format=csv"' in html
    )
    assert f'href="/voiceconfig/stats/live?department={sales.pk}&amp;format=csv"' in html


def test_a_filter_value_cannot_add_parameters_of_its_own(manager):
    html = manager.get(PAGE, {"from": "2026-11-01&groupBy=line", "department": "1 OR 1=1"}).content.decode()
    # Passed through encoded: the API judges the value (and answers 400 naming the parameter), nothing more.
    assert attribute(html, "data-summary-url") == (
        "/voiceconfig/stats/summary?from=2026-11-01%26groupBy%3Dline&department=1+OR+1%3D1"
    )


def test_the_page_loads_its_scripts_from_static_files_only(manager):
    html = manager.get(PAGE).content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in tag for tag in scripts), "an inline script would break the CSP"
    assert '<script src="/static/voice/statistics.js" defer></script>' in html


def test_chart_js_is_served_from_this_server_when_installed(manager, monkeypatch):
    monkeypatch.setattr(admin_statistics, "_chart_js_installed", lambda: True)
    html = manager.get(PAGE).content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>' in html


def test_without_chart_js_the_page_still_has_every_table(manager, monkeypatch):
    monkeypatch.setattr(admin_statistics, "_chart_js_installed", lambda: False)
    html = manager.get(PAGE).content.decode()
    assert "chart.umd" not in html
    for table in ("stats-live", "table-volume", "table-quality", "stats-agents"):
        assert f'id="{table}"' in html


def test_an_agent_is_sent_to_the_admin_login(client, agent):
    client.force_login(agent.user)
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client, db):
    response = client.get(PAGE, {"from": "2026-11-01"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", ["admin:index", "voice-overview"])
def test_the_page_is_linked_beside_the_live_overview(manager, page):
    html = manager.get(reverse(page)).content.decode()
    assert f'href="{PAGE}"' in html
    assert f'href="{reverse("voice-overview")}"' in html
