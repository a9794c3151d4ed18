"""Staff manage voice configs over REST: CRUD with nested hours, holidays and IVR menu, camelCase both ways."""

import pytest

from voiceconfig.models import BusinessHours, Holiday, IvrOption, PhoneLine, VoiceConfig

URL = "/voiceconfig/configs"

FULL_CONFIG = {
    "name": "Night desk",
    "greetingText": "Welcome to the night desk.",
    "voice": "Polly.Amy",
    "language": "en-GB",
    "ivrPrompt": "Press 1 for sales, 2 for support.",
    "ivrMaxAttempts": 2,
    "ivrTimeoutSeconds": 7,
    "ivrOptions": [
        {"digit": "1", "keywords": ["sales", "Buy"], "label": "sales", "action": "route"},
        {"digit": "9", "label": "the front desk", "action": "forward", "forwardTo": "+44 20 7946 0958"},
    ],
    "timeZone": "Europe/London",
    "businessHours": [
        {"weekday": 0, "opensAt": "09:00", "closesAt": "17:00"},
        {"weekday": 4, "opensAt": "22:00", "closesAt": "06:00"},
    ],
    "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
    "afterHoursAction": "voicemail",
    "holdMusicUrl": "https://example.com/hold.mp3",
    "ringTimeoutSeconds": 25,
    "maxQueueWaitSeconds": 600,
    "voicemailEnabled": True,
    "recordingPolicy": "always",
    "wrapUpSeconds": 30,
}


@pytest.fixture
def configs(db):
    return [
        VoiceConfig.objects.create(name="Alpha sales", time_zone="Europe/Paris", voicemail_enabled=False),
        VoiceConfig.objects.create(
            name="Beta support", after_hours_action="forward", after_hours_forward_to="+14155550199"
        ),
        VoiceConfig.objects.create(name="Gamma billing", greeting_text="Billing, how can we help?"),
    ]


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def test_creating_a_config_needs_only_a_name_and_fills_sensible_defaults(staff_client):
    response = staff_client.post(URL, {"name": "Minimal"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Minimal"
    assert body["timeZone"] == "UTC"
    assert body["ringTimeoutSeconds"] == 20
    assert body["afterHoursAction"] == "message"
    assert body["businessHours"] == [] and body["holidays"] == [] and body["ivrOptions"] == []
    assert VoiceConfig.objects.get(pk=body["id"]).name == "Minimal"


def test_creating_a_full_config_stores_hours_holidays_and_menu_and_answers_in_camel_case(staff_client):
    response = staff_client.post(URL, FULL_CONFIG, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert "greetingText" in body and "greeting_text" not in body
    config = VoiceConfig.objects.get(pk=body["id"])
    assert config.greeting_text == "Welcome to the night desk."
    assert config.time_zone == "Europe/London"
    assert config.recording_policy == "always"
    hours = [(h.weekday, f"{h.opens_at:%H:%M}", f"{h.closes_at:%H:%M}") for h in config.business_hours.all()]
    assert hours == [(0, "09:00", "17:00"), (4, "22:00", "06:00")]  # the Friday range runs past midnight
    assert [(h.date.isoformat(), h.name) for h in config.holidays.all()] == [("2026-12-25", "Christmas")]
    options = {o.digit: o for o in config.ivr_options.all()}
    assert options["1"].keyword_list() == ["sales", "buy"]
    assert options["9"].forward_to == "+442079460958"  # normalised to E.164
    assert body["ivrOptions"][0]["keywords"] == ["sales", "buy"]
    assert body["businessHours"][1] == {"weekday": 4, "opensAt": "22:00", "closesAt": "06:00"}


def test_list_is_paginated_with_count_next_and_previous(staff_client, configs):
    response = staff_client.get(URL, {"pageSize": 2})

    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "page=2" in body["next"]
    second = staff_client.get(body["next"]).json()
    assert [row["name"] for row in second["results"]] == ["Gamma billing"]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"name": "beta"}, ["Beta support"]),
        ({"timeZone": "Europe/Paris"}, ["Alpha sales"]),
        ({"afterHoursAction": "forward"}, ["Beta support"]),
        ({"voicemailEnabled": "false"}, ["Alpha sales"]),
        ({"search": "how can we help"}, ["Gamma billing"]),
        ({"ordering": "-name"}, ["Gamma billing", "Beta support", "Alpha sales"]),
        ({"ordering": "createdAt"}, ["Alpha sales", "Beta support", "Gamma billing"]),
    ],
)
def test_list_filters_searches_and_orders(staff_client, configs, query, expected):
    assert names(staff_client.get(URL, query)) == expected


def test_retrieve_shows_one_config(staff_client, configs):
    response = staff_client.get(f"{URL}/{configs[1].pk}")

    assert response.status_code == 200
    assert response.json()["afterHoursForwardTo"] == "+14155550199"


def test_put_replaces_the_config_and_its_nested_lists(staff_client):
    created = staff_client.post(URL, FULL_CONFIG, format="json").json()
    replacement = {
        "name": "Night desk 2",
        "businessHours": [{"weekday": 6, "opensAt": "10:00", "closesAt": "12:00"}],
        "holidays": [],
        "ivrOptions": [{"digit": "#", "action": "voicemail", "keywords": []}],
    }

    response = staff_client.put(f"{URL}/{created['id']}", replacement, format="json")

    assert response.status_code == 200, response.content
    config = VoiceConfig.objects.get(pk=created["id"])
    assert config.name == "Night desk 2"
    assert [(h.weekday, h.opens_at.hour) for h in config.business_hours.all()] == [(6, 10)]
    assert not config.holidays.exists()
    assert [o.digit for o in config.ivr_options.all()] == ["#"]


def test_patch_changes_only_the_fields_sent_and_keeps_nested_lists(staff_client):
    created = staff_client.post(URL, FULL_CONFIG, format="json").json()

    response = staff_client.patch(f"{URL}/{created['id']}", {"ringTimeoutSeconds": 45}, format="json")

    assert response.status_code == 200, response.content
    config = VoiceConfig.objects.get(pk=created["id"])
    assert config.ring_timeout_seconds == 45
    assert config.greeting_text == "Welcome to the night desk."
    assert config.business_hours.count() == 2
    assert config.ivr_options.count() == 2


def test_delete_removes_an_unused_config_with_its_hours(staff_client):
    created = staff_client.post(URL, FULL_CONFIG, format="json").json()

    response = staff_client.delete(f"{URL}/{created['id']}")

    assert response.status_code == 204
    assert not VoiceConfig.objects.filter(pk=created["id"]).exists()
    assert not BusinessHours.objects.exists() and not IvrOption.objects.exists() and not Holiday.objects.exists()


def test_deleting_a_config_a_line_uses_is_a_409_and_nothing_is_lost(staff_client, line):
    config = line.config
    BusinessHours.objects.create(config=config, weekday=1, opens_at="09:00", closes_at="17:00")

    response = staff_client.delete(f"{URL}/{config.pk}")

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert "Main" in body["message"]  # names the line that still uses it
    assert VoiceConfig.objects.filter(pk=config.pk).exists()
    assert PhoneLine.objects.filter(pk=line.pk, config=config).exists()
    assert config.business_hours.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"ringTimeoutSeconds": 1}, "ringTimeoutSeconds"),
        ({"afterHoursAction": "forward"}, "afterHoursForwardTo"),
        ({"afterHoursAction": "dance"}, "afterHoursAction"),
        ({"afterHoursForwardTo": "12345"}, "afterHoursForwardTo"),
        ({"businessHours": [{"weekday": 7, "opensAt": "09:00", "closesAt": "17:00"}]}, "businessHours"),
        ({"businessHours": [{"weekday": 1, "opensAt": "09:00", "closesAt": "09:00"}]}, "businessHours"),
        ({"holidays": [{"date": "2026-01-01"}, {"date": "2026-01-01"}]}, "holidays"),
        ({"ivrOptions": [{"digit": "1"}, {"digit": "1"}]}, "ivrOptions"),
        ({"ivrOptions": [{"digit": "x"}]}, "ivrOptions"),
        ({"ivrOptions": [{"digit": "2", "action": "forward"}]}, "ivrOptions"),
        ({"holdMusicUrl": "not a url"}, "holdMusicUrl"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(staff_client, change, field):
    response = staff_client.post(URL, {"name": "Bad", **change}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in body["details"]
    assert body["message"].startswith(field)
    assert not VoiceConfig.objects.filter(name="Bad").exists()


def test_config_names_are_unique(staff_client, config):
    response = staff_client.post(URL, {"name": config.name}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()["details"]


def test_a_failing_nested_write_leaves_the_stored_config_untouched(staff_client):
    created = staff_client.post(URL, FULL_CONFIG, format="json").json()

    response = staff_client.put(
        f"{URL}/{created['id']}",
        {"name": "Renamed", "ivrOptions": [{"digit": "3", "action": "forward", "forwardTo": "nope"}]},
        format="json",
    )

    assert response.status_code == 400
    config = VoiceConfig.objects.get(pk=created["id"])
    assert config.name == "Night desk"
    assert config.ivr_options.count() == 2


@pytest.mark.parametrize(
    "nested",
    [
        {"businessHours": [{"weekday": 1}]},
        {"businessHours": [{}]},
        {"holidays": [{"name": "no date"}]},
        {"ivrOptions": [{"label": "no key"}]},
    ],
)
def test_a_patch_must_send_whole_items_of_the_lists_it_replaces(staff_client, nested):
    created = staff_client.post(URL, FULL_CONFIG, format="json").json()

    response = staff_client.patch(f"{URL}/{created['id']}", nested, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()["details"]) == set(nested)
    config = VoiceConfig.objects.get(pk=created["id"])
    assert (config.business_hours.count(), config.holidays.count(), config.ivr_options.count()) == (2, 1, 2)


def test_business_hours_are_kept_to_the_minute_and_shown_as_hh_mm(staff_client):
    response = staff_client.post(
        "/voiceconfig/configs",
        {"name": "Seconds", "businessHours": [{"weekday": 2, "opensAt": "08:30:59.5", "closesAt": "17:45:10"}]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["businessHours"] == [{"weekday": 2, "opensAt": "08:30", "closesAt": "17:45"}]


# --- the admin's rules over REST too (issue 13 item 6: one validator in voiceconfig/validators.py) ------------------


def test_overlapping_business_hours_are_refused_over_rest_naming_both(staff_client):
    hours = [
        {"weekday": 0, "opensAt": "09:00", "closesAt": "17:00"},
        {"weekday": 0, "opensAt": "16:00", "closesAt": "20:00"},
    ]
    response = staff_client.post("/voiceconfig/configs", {"name": "Overlap", "businessHours": hours}, format="json")

    assert response.status_code == 400
    sentences = response.json()["details"]["businessHours"]
    assert "Monday 09:00-17:00 overlaps Monday 16:00-20:00." in sentences
    assert not VoiceConfig.objects.filter(name="Overlap").exists()


def test_a_range_past_midnight_overlapping_the_next_morning_is_refused_over_rest(staff_client, config):
    hours = [
        {"weekday": 6, "opensAt": "22:00", "closesAt": "06:00"},
        {"weekday": 0, "opensAt": "05:00", "closesAt": "09:00"},
    ]
    response = staff_client.patch(f"/voiceconfig/configs/{config.pk}", {"businessHours": hours}, format="json")
    assert response.status_code == 400
    assert "overlaps" in response.json()["message"]


def test_touching_ranges_are_fine_over_rest(staff_client):
    hours = [
        {"weekday": 0, "opensAt": "09:00", "closesAt": "12:00"},
        {"weekday": 0, "opensAt": "12:00", "closesAt": "17:00"},
    ]
    response = staff_client.post("/voiceconfig/configs", {"name": "Split", "businessHours": hours}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("message", ["", "   "])
def test_an_ivr_message_option_without_words_is_refused_over_rest(staff_client, message):
    option = {"digit": "1", "label": "hours", "action": "message", "message": message}
    response = staff_client.post("/voiceconfig/configs", {"name": "Menu", "ivrOptions": [option]}, format="json")

    assert response.status_code == 400
    assert response.json()["details"]["ivrOptions"] == [
        "0.message: A message option needs the words to read to the caller."
    ]
    assert not VoiceConfig.objects.filter(name="Menu").exists()
