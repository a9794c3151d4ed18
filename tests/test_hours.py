"""Business hours in the config's IANA zone: DST, ranges past midnight, holidays."""

from datetime import UTC, date, datetime, time

import pytest

from voiceconfig.models import BusinessHours, Holiday, VoiceConfig
from voicetwilio.hours import Range, is_open, is_open_at, local_time

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
NINE_TO_FIVE = [Range(day, time(9), time(17)) for day in (MON, TUE, WED, THU, FRI)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "moment, expected",
    [
        ("2024-06-03T08:59:59", False),  # Monday, a second before opening
        ("2024-06-03T09:00:00", True),
        ("2024-06-03T16:59:59", True),
        ("2024-06-03T17:00:00", False),  # closing time is exclusive
        ("2024-06-08T12:00:00", False),  # Saturday
    ],
)
def test_nine_to_five_on_weekdays(moment, expected):
    assert is_open_at(local=at(moment), ranges=NINE_TO_FIVE, holidays=[]) is expected


@pytest.mark.parametrize(
    "moment, expected",
    [
        ("2024-06-07T21:59:00", False),  # Friday before the night shift
        ("2024-06-07T22:00:00", True),
        ("2024-06-07T23:59:59", True),
        ("2024-06-08T00:00:00", True),  # Saturday's small hours belong to Friday's range
        ("2024-06-08T05:59:59", True),
        ("2024-06-08T06:00:00", False),
        ("2024-06-09T01:00:00", False),  # Sunday's small hours: no range opened on Saturday
    ],
)
def test_a_range_past_midnight_runs_into_the_next_day(moment, expected):
    assert is_open_at(local=at(moment), ranges=[Range(FRI, time(22), time(6))], holidays=[]) is expected


def test_a_sunday_night_range_wraps_into_monday():
    ranges = [Range(SUN, time(20), time(2))]
    assert is_open_at(local=at("2024-06-10T01:00:00"), ranges=ranges, holidays=[])  # Monday 01:00
    assert not is_open_at(local=at("2024-06-10T02:00:00"), ranges=ranges, holidays=[])


def test_closing_at_midnight_means_until_the_end_of_the_day():
    ranges = [Range(MON, time(18), time(0))]
    assert is_open_at(local=at("2024-06-03T23:59:00"), ranges=ranges, holidays=[])
    assert not is_open_at(local=at("2024-06-04T00:00:00"), ranges=ranges, holidays=[])


def test_no_ranges_means_always_open_except_holidays():
    assert is_open_at(local=at("2024-06-09T03:00:00"), ranges=[], holidays=[])
    assert not is_open_at(local=at("2024-12-25T12:00:00"), ranges=[], holidays=[date(2024, 12, 25)])


def test_a_holiday_closes_the_whole_date_and_the_night_shift_that_opens_on_it():
    ranges = [Range(day, time(22), time(6)) for day in range(7)]
    christmas = [date(2024, 12, 25)]
    assert not is_open_at(local=at("2024-12-25T10:00:00"), ranges=ranges, holidays=christmas)
    assert not is_open_at(local=at("2024-12-25T23:00:00"), ranges=ranges, holidays=christmas)
    assert not is_open_at(local=at("2024-12-26T03:00:00"), ranges=ranges, holidays=christmas)
    assert is_open_at(local=at("2024-12-26T23:00:00"), ranges=ranges, holidays=christmas)


@pytest.mark.parametrize(
    "utc, expected",
    [
        # New York, Monday 9:00 local. Winter (EST, UTC-5): 14:00 UTC; summer (EDT, UTC-4): 13:00 UTC.
        ("2024-01-08T13:30:00+00:00", False),
        ("2024-01-08T14:00:00+00:00", True),
        ("2024-07-08T13:00:00+00:00", True),
        ("2024-07-08T12:59:00+00:00", False),
        # The Monday after the spring-forward Sunday (10 March 2024) already opens at 13:00 UTC.
        ("2024-03-11T13:00:00+00:00", True),
        # The Monday after the fall-back Sunday (3 November 2024) opens at 14:00 UTC again.
        ("2024-11-04T13:30:00+00:00", False),
        ("2024-11-04T14:00:00+00:00", True),
    ],
)
def test_opening_follows_local_time_across_daylight_saving_changes(utc, expected):
    local = local_time(datetime.fromisoformat(utc), "America/New_York")
    assert is_open_at(local=local, ranges=NINE_TO_FIVE, holidays=[]) is expected


def test_a_night_range_on_the_night_the_clocks_go_back_covers_the_repeated_hour():
    # 3 November 2024, New York: 01:00-02:00 happens twice. Saturday 22:00 - Sunday 03:00 covers both.
    ranges = [Range(SAT, time(22), time(3))]
    first = local_time(datetime(2024, 11, 3, 5, 30, tzinfo=UTC), "America/New_York")  # 01:30 EDT
    second = local_time(datetime(2024, 11, 3, 6, 30, tzinfo=UTC), "America/New_York")  # 01:30 EST
    assert (first.hour, second.hour) == (1, 1)
    assert is_open_at(local=first, ranges=ranges, holidays=[])
    assert is_open_at(local=second, ranges=ranges, holidays=[])


@pytest.mark.django_db
def test_is_open_reads_the_configs_zone_ranges_and_holidays():
    config = VoiceConfig.objects.create(name="Tokyo desk", time_zone="Asia/Tokyo")
    BusinessHours.objects.create(config=config, weekday=MON, opens_at=time(9), closes_at=time(18))
    monday_ten_in_tokyo = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
    assert is_open(config=config, at=monday_ten_in_tokyo)
    assert not is_open(config=config, at=datetime(2024, 6, 3, 10, 0, tzinfo=UTC))  # 19:00 in Tokyo
    Holiday.objects.create(config=config, date=date(2024, 6, 3))
    assert not is_open(config=config, at=monday_ten_in_tokyo)


@pytest.mark.django_db
def test_a_holiday_yesterday_closes_the_small_hours_of_its_night_shift():
    config = VoiceConfig.objects.create(name="Night desk", time_zone="Europe/London")
    BusinessHours.objects.create(config=config, weekday=MON, opens_at=time(22), closes_at=time(6))
    tuesday_two_am_bst = datetime(2024, 6, 4, 1, 0, tzinfo=UTC)
    assert is_open(config=config, at=tuesday_two_am_bst)
    Holiday.objects.create(config=config, date=date(2024, 6, 3))
    assert not is_open(config=config, at=tuesday_two_am_bst)
