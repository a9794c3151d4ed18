"""GET /voiceconfig/stats/summary on small call histories built by hand: each figure asserted exactly, local days
and hours across DST, agents' missed rings and occupancy, CSV, bad parameters, permissions."""

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from voiceconfig.models import (
    AgentSession,
    Call,
    CallStage,
    CallStatus,
    Department,
    MissedRing,
    PhoneLine,
)

pytestmark = pytest.mark.django_db
URL = "/voiceconfig/stats/summary"
_sids = itertools.count(1)


def at(text: str) -> datetime:
    """An instant written with its offset: at('2026-10-25T02:30+02:00')."""
    return datetime.fromisoformat(text)


def make_call(started: datetime, **fields) -> Call:
    defaults = {
        "call_sid": f"CA{next(_sids):032x}",
        "status": CallStatus.COMPLETED,
        "stage": CallStage.CONNECTED,
        "started_at": started,
        "ended_at": started + timedelta(minutes=5),
    }
    return Call.objects.create(**{**defaults, **fields})


def answered(started, *, wait, talk, hold=0, wrap=0, **fields) -> Call:
    return make_call(
        started,
        offered=True,
        queued_at=started,
        answered_at=started + timedelta(seconds=wait),
        wait_seconds=wait,
        talk_seconds=talk,
        hold_seconds=hold,
        wrap_up_seconds=wrap,
        **fields,
    )


def abandoned(started, *, wait, **fields) -> Call:
    return make_call(
        started, offered=True, abandoned=True, queued_at=started, wait_seconds=wait, stage=CallStage.ABANDONED, **fields
    )


def get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def history(config, line, agent, other_agent):
    """One day in Paris (2026-11-10) of every kind of call; Alice answers two, Bob makes an outbound call."""
    config.time_zone = "Europe/Paris"
    config.save()
    day = "2026-11-10T"
    calls = {
        "a": answered(at(day + "09:00+01:00"), wait=10, talk=100, hold=20, wrap=30, agent=agent, phone_line=line),
        "b": answered(at(day + "09:10+01:00"), wait=30, talk=200, wrap=30, agent=agent, phone_line=line),
        "short": abandoned(at(day + "10:00+01:00"), wait=3, phone_line=line),
        "abandoned": abandoned(at(day + "10:05+01:00"), wait=40, phone_line=line),
        "voicemail": make_call(
            at(day + "11:00+01:00"),
            offered=True,
            queued_at=at(day + "11:00+01:00"),
            wait_seconds=60,
            voicemail=True,
            stage=CallStage.VOICEMAIL,
            phone_line=line,
        ),
        "after_hours": make_call(
            at(day + "22:00+01:00"), after_hours=True, voicemail=True, stage=CallStage.VOICEMAIL, phone_line=line
        ),
        "outbound": make_call(
            at(day + "12:00+01:00"),
            direction="outbound-api",
            answered_at=at(day + "12:00:20+01:00"),
            talk_seconds=50,
            wrap_up_seconds=30,
            agent=other_agent,
            phone_line=line,
        ),
        # The day before and the day after (local): never counted.
        "before": answered(at("2026-11-09T23:59+01:00"), wait=1, talk=1, agent=agent),
        "after": answered(at("2026-11-11T00:00+01:00"), wait=1, talk=1, agent=agent),
    }
    Call.objects.filter(pk=calls["a"].pk).update(transferred=True)
    return calls


FIGURES = {
    "offered": 5,
    "answered": 2,
    "abandoned": 1,
    "shortAbandoned": 1,
    "voicemail": 2,
    "afterHours": 1,
    "transferred": 1,
    "serviceLevel": 0.25,  # answered within 20 s (1) / (offered 5 - short abandons 1)
    "averageSpeedOfAnswer": 20.0,  # (10 + 30) / 2
    "averageHandleTime": 146.7,  # ((100 + 30) + (200 + 30) + (50 + 30)) / 3 handled, outbound included
    "averageTalkSeconds": 110.0,  # ((100 - 20) + 200 + 50) / 3: talk without the hold
    "averageHoldSeconds": 6.7,  # 20 / 3
    "longestWaitSeconds": 60,
    "missed": None,
    "occupancy": None,
}


def test_one_day_every_figure_exactly(staff_client, history):
    body = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-10", "groupBy": "day"})
    assert body["timeZone"] == "Europe/Paris"  # the config's
    assert (body["serviceLevelSeconds"], body["shortAbandonSeconds"]) == (20, 5)
    assert body["rows"] == [{"key": "2026-11-10", "label": "Tue 10 Nov", **FIGURES}]
    assert body["total"] == {"key": "total", "label": "Total", **FIGURES}


def test_thresholds_are_parameters(staff_client, history):
    body = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-10", "serviceLevelSeconds": 30})
    assert body["total"]["serviceLevel"] == 0.5  # both answers within 30 s
    body = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-10", "shortAbandonSeconds": 0})
    total = body["total"]
    assert (total["abandoned"], total["shortAbandoned"], total["serviceLevel"]) == (2, 0, 0.2)


def test_empty_days_are_rows_of_zeros_and_nulls(staff_client, history):
    body = get(staff_client, **{"from": "2026-11-09", "to": "2026-11-12"})
    assert [row["key"] for row in body["rows"]] == ["2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12"]
    empty = body["rows"][3]
    assert empty["offered"] == 0 and empty["serviceLevel"] is None and empty["averageHandleTime"] is None
    assert [row["answered"] for row in body["rows"]] == [1, 2, 1, 0]


def test_days_follow_the_zone_across_the_fall_back(staff_client, config):
    # Paris leaves summer time on 2026-10-25 at 03:00 (+02:00) -> 02:00 (+01:00): a 25-hour day.
    for text in (
        "2026-10-24T23:30+02:00",
        "2026-10-25T00:30+02:00",  # 2026-10-24 in UTC: the zone decides the day
        "2026-10-25T02:30+02:00",  # the first 02:30
        "2026-10-25T02:30+01:00",  # the second 02:30, an hour later
        "2026-10-25T23:30+01:00",
        "2026-10-26T00:10+01:00",  # 2026-10-25 in UTC
    ):
        abandoned(at(text), wait=10)
    body = get(staff_client, **{"from": "2026-10-24", "to": "2026-10-26", "tz": "Europe/Paris"})
    assert [(row["key"], row["abandoned"]) for row in body["rows"]] == [
        ("2026-10-24", 1),
        ("2026-10-25", 4),
        ("2026-10-26", 1),
    ]
    hours = get(staff_client, **{"from": "2026-10-25", "to": "2026-10-25", "tz": "Europe/Paris", "groupBy": "hour"})
    rows = hours["rows"]
    assert len(rows) == 25
    assert [row["key"] for row in rows[:5]] == [
        "2026-10-25T00:00+02:00",
        "2026-10-25T01:00+02:00",
        "2026-10-25T02:00+02:00",
        "2026-10-25T02:00+01:00",  # the repeated hour is its own row
        "2026-10-25T03:00+01:00",
    ]
    assert rows[2]["label"] == "Sun 25 Oct 02:00 +0200" and rows[3]["label"] == "Sun 25 Oct 02:00 +0100"
    counted = {row["key"]: row["abandoned"] for row in rows if row["abandoned"]}
    assert counted == {
        "2026-10-25T00:00+02:00": 1,
        "2026-10-25T02:00+02:00": 1,
        "2026-10-25T02:00+01:00": 1,
        "2026-10-25T23:00+01:00": 1,
    }
    assert hours["total"]["abandoned"] == 4


def test_the_spring_forward_day_has_23_hours(staff_client, config):
    abandoned(at("2026-03-29T03:15+02:00"), wait=10)  # 02:00-03:00 does not exist that night
    body = get(staff_client, **{"from": "2026-03-29", "to": "2026-03-29", "tz": "Europe/Paris", "groupBy": "hour"})
    keys = [row["key"] for row in body["rows"]]
    assert len(keys) == 23
    assert keys[1:3] == ["2026-03-29T01:00+01:00", "2026-03-29T03:00+02:00"]
    assert body["rows"][2]["abandoned"] == 1


def test_a_half_hour_zone_groups_by_its_own_hours(staff_client, config):
    # India is UTC+05:30: its 10:00-11:00 straddles two UTC hours; still one row.
    abandoned(at("2026-11-10T10:05+05:30"), wait=10)
    abandoned(at("2026-11-10T10:55+05:30"), wait=20)
    body = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-10", "tz": "Asia/Kolkata", "groupBy": "hour"})
    rows = {row["key"]: row for row in body["rows"] if row["abandoned"]}
    assert list(rows) == ["2026-11-10T10:00+05:30"]
    assert (rows["2026-11-10T10:00+05:30"]["abandoned"], rows["2026-11-10T10:00+05:30"]["longestWaitSeconds"]) == (
        2,
        20,
    )


def test_by_agent_missed_and_occupancy(staff_client, history, agent, other_agent):
    start = at("2026-11-10T00:00+01:00")
    # Alice: online 1000 s that day; Bob: a session from the evening before, 300 s of it inside the day.
    AgentSession.objects.create(
        agent=agent, started_at=start + timedelta(hours=8), ended_at=start + timedelta(hours=8, seconds=1000)
    )
    AgentSession.objects.create(
        agent=other_agent, started_at=start - timedelta(seconds=100), ended_at=start + timedelta(seconds=300)
    )
    MissedRing.objects.create(agent=agent, call=history["short"], at=start + timedelta(hours=10))
    MissedRing.objects.create(agent=agent, call=history["abandoned"], at=start + timedelta(hours=10, minutes=5))
    MissedRing.objects.create(agent=agent, call=history["before"], at=start - timedelta(minutes=1))  # the day before
    body = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-10", "groupBy": "agent"})
    rows = {row["label"]: row for row in body["rows"]}
    assert list(rows) == ["Alice", "Bob", "No agent"]
    alice, bob, nobody = rows["Alice"], rows["Bob"], rows["No agent"]
    assert alice["key"] == agent.pk and bob["key"] == other_agent.pk and nobody["key"] is None
    assert (alice["answered"], alice["missed"], alice["occupancy"]) == (2, 2, 0.36)  # (130 + 230) / 1000
    assert (alice["averageHandleTime"], alice["averageSpeedOfAnswer"], alice["serviceLevel"]) == (180.0, 20.0, 0.5)
    # Bob only called out: nothing offered to him, but his talk and wrap-up are handle time.
    assert (bob["offered"], bob["answered"], bob["missed"], bob["occupancy"]) == (0, 0, 0, 0.2667)  # 80 / 300
    assert (nobody["abandoned"], nobody["shortAbandoned"], nobody["voicemail"], nobody["occupancy"]) == (1, 1, 2, None)
    assert body["total"]["missed"] == 2
    assert body["total"]["occupancy"] == 0.3385  # (360 + 80) / (1000 + 300)


def test_by_department_and_line_and_the_department_filter(staff_client, config, line, agent):
    config.time_zone = "UTC"
    config.save()
    sales = Department.objects.create(name="Sales", time_zone="America/New_York")
    support = Department.objects.create(name="Support", time_zone="Asia/Tokyo")
    other_line = PhoneLine.objects.create(
        name="Second", phone_number="+14155550177", config=config, default_department=support
    )
    # 2026-11-10 20:00 in New York is 2026-11-11 01:00 UTC.
    answered(at("2026-11-10T20:00-05:00"), wait=5, talk=60, agent=agent, phone_line=line, department=sales)
    abandoned(at("2026-11-11T10:00+09:00"), wait=30, phone_line=other_line)  # Support by its line's default
    abandoned(at("2026-11-11T12:00+00:00"), wait=30, phone_line=line)  # no department at all
    body = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-11", "groupBy": "department"})
    assert [(row["key"], row["label"], row["offered"]) for row in body["rows"]] == [
        (sales.pk, "Sales", 1),
        (support.pk, "Support", 1),
        (None, "No department", 1),
    ]
    lines = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-11", "groupBy": "line"})
    assert [(row["label"], row["offered"]) for row in lines["rows"]] == [("Main", 2), ("Second", 1)]
    only_sales = get(staff_client, **{"from": "2026-11-10", "to": "2026-11-10", "department": sales.pk})
    assert only_sales["timeZone"] == "America/New_York"  # the department's zone by default
    assert only_sales["total"]["answered"] == 1 and only_sales["rows"][0]["key"] == "2026-11-10"


def test_csv_has_the_same_columns_and_the_total_last(staff_client, history):
    response = staff_client.get(URL, {"from": "2026-11-09", "to": "2026-11-10", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    body = get(staff_client, **{"from": "2026-11-09", "to": "2026-11-10"})
    assert list(rows[0]) == list(body["rows"][0])
    assert [row["key"] for row in rows] == ["2026-11-09", "2026-11-10", "total"]
    assert (
        rows[1]["serviceLevel"] == "0.25" and rows[1]["missed"] == "" and rows[2]["offered"] == "6"
    )  # with the call of the 9th


def test_the_default_range_is_the_last_seven_days(staff_client, config):
    body = get(staff_client)
    today = datetime.now(UTC).date()
    assert (body["from"], body["to"]) == ((today - timedelta(days=6)).isoformat(), today.isoformat())
    assert len(body["rows"]) == 7 and body["groupBy"] == "day"


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-11-10", "to": "2026-11-09"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"groupBy": "week"}, "groupBy"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"serviceLevelSeconds": "-1"}, "serviceLevelSeconds"),
        ({"shortAbandonSeconds": "soon"}, "shortAbandonSeconds"),
        ({"department": "999999"}, "department"),
        ({"department": "sales"}, "department"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(staff_client, config, params, parameter):
    for extra in ({}, {"format": "csv"}):
        response = staff_client.get(URL, {**params, **extra})
        assert response.status_code == 400
        body = response.json()  # the JSON envelope, even when CSV was asked for
        assert body["error"] == "validation_error" and body["message"].startswith(f"{parameter}:"), body


@pytest.mark.parametrize("url", [URL, "/voiceconfig/stats/live"])
def test_an_unknown_format_is_a_400_not_a_missing_page(staff_client, config, url):
    response = staff_client.get(url, {"format": "xlsx"})

    assert response.status_code == 400  # DRF's own answer is a 404, as if the page were not there
    body = response.json()
    assert body["error"] == "validation_error" and body["message"].startswith("format:"), body
    assert "json, csv" in body["message"]


def test_any_api_answers_an_unknown_format_with_a_400_too(agent_client):
    response = agent_client.get("/voiceconfig/calls", {"format": "xml"})

    assert response.status_code == 400
    assert response.json()["message"].startswith("format:"), response.json()


def test_a_full_year_is_allowed(staff_client, config):
    assert len(get(staff_client, **{"from": "2025-01-01", "to": "2026-01-01"})["rows"]) == 366


@pytest.mark.parametrize("url", [URL, "/voiceconfig/stats/live"])
def test_staff_only(client, agent_client, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
    agent = agent_client.get(url)
    assert agent.status_code == 403 and agent.json()["error"] == "permission_denied"
    assert agent_client.get(url, {"format": "csv"}).status_code == 403
