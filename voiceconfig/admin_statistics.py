"""The admin's statistics page (issue 17): live figures per department, then charts and tables of a date range.

The page computes no figure. Its script reads the statistics REST endpoints (`/voiceconfig/stats/live` and
`/voiceconfig/stats/summary`, the one place the figures are defined) with the admin's session and draws them, so
what a manager sees is what the API and its CSV export say. The filters are a GET form passed through to those
endpoints unchanged: the page's URL is shareable, and a bad value gets the API's own 400 message on the page.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse_lazy

from .models import Department

LIVE_URL = reverse_lazy("stats-live")
SUMMARY_URL = reverse_lazy("stats-summary")
# Built by `make console-assets` from npm chart.js (static/vendor/ is git-ignored); the page works without it.
CHART_JS = "vendor/chartjs/chart.umd.min.js"
FILTERS = ("from", "to", "department")


def _chart_js_installed() -> bool:
    """In the source folders (DEBUG) or collected (gunicorn with collectstatic)."""
    if finders.find(CHART_JS):
        return True
    try:
        return staticfiles_storage.exists(CHART_JS)
    except Exception:  # a storage that cannot answer (no STATIC_ROOT yet) means not collected
        return False


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def statistics_context(request: HttpRequest) -> dict:
    filters = {name: request.GET.get(name, "").strip() for name in FILTERS}
    query = {name: value for name, value in filters.items() if value}
    live_query = {"department": query["department"]} if "department" in query else {}
    return {
        "filters": filters,
        "departments": Department.objects.order_by("name").values_list("pk", "name"),
        "live_url": _with_query(LIVE_URL, live_query),
        # The script adds groupBy; the CSV links are the figures for anyone without the script.
        "summary_url": _with_query(SUMMARY_URL, query),
        "csv_links": [
            (label, _with_query(SUMMARY_URL, {**query, "groupBy": group, "format": "csv"}))
            for label, group in (("by day", "day"), ("by hour", "hour"), ("by agent", "agent"))
        ]
        + [("live", _with_query(LIVE_URL, {**live_query, "format": "csv"}))],
        "chart_js_url": static(CHART_JS) if _chart_js_installed() else "",
    }


def statistics(request: HttpRequest) -> HttpResponse:
    """The statistics page inside the admin (wrapped by admin_site.admin_view: staff only)."""
    context = {**admin.site.each_context(request), **statistics_context(request), "title": "Statistics"}
    # A dashboard wants the width: the live table has thirteen columns, the hourly chart up to 168 bars.
    context["is_nav_sidebar_enabled"] = False
    # admin_view marks it never_cache: today's figures change by the minute.
    return TemplateResponse(request, "admin/voiceconfig/statistics.html", context)
