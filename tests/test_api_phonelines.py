"""Staff manage phone lines over REST: E.164 numbers parsed by phonenumbers, unique, with their config and agents."""

import pytest

from voiceconfig.models import PhoneLine, VoiceConfig

URL = "/voiceconfig/phonelines"


@pytest.fixture
def lines(config, agent, other_agent):
    night = VoiceConfig.objects.create(name="Night")
    sales = PhoneLine.objects.create(name="Sales UK", phone_number="+442079460958", config=config)
    support = PhoneLine.objects.create(name="Support US", phone_number="+14155550123", config=night, enabled=False)
    billing = PhoneLine.objects.create(name="Billing", phone_number="+4930901820", config=config)
    sales.agents.add(agent)
    support.agents.add(agent, other_agent)
    return sales, support, billing


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def test_creating_a_line_normalises_the_number_to_e164_and_links_agents(staff_client, config, agent):
    response = staff_client.post(
        URL,
        {"name": "Main", "phoneNumber": "+1 (415) 555-0100", "config": config.pk, "agents": [agent.pk]},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phoneNumber"] == "+14155550100"
    assert body["enabled"] is True
    assert body["agents"] == [agent.pk]
    line = PhoneLine.objects.get(pk=body["id"])
    assert line.phone_number == "+14155550100"
    assert list(line.agents.all()) == [agent]


def test_the_00_international_prefix_is_understood(staff_client, config):
    response = staff_client.post(URL, {"name": "UK", "phoneNumber": "0044 20 7946 0958", "config": config.pk})

    assert response.status_code == 201, response.content
    assert response.json()["phoneNumber"] == "+442079460958"


@pytest.mark.parametrize(
    "number",
    ["4155550100", "+1 415 555", "+999 1234567", "call me", "", "+1415555010012345678", "+44 20 7946 09581"],
)
def test_numbers_that_are_not_valid_international_numbers_are_refused(staff_client, config, number):
    response = staff_client.post(URL, {"name": "Bad", "phoneNumber": number, "config": config.pk}, format="json")

    assert response.status_code == 400, response.content
    assert "phoneNumber" in response.json()["details"]
    assert not PhoneLine.objects.filter(name="Bad").exists()


def test_a_number_written_differently_is_still_the_same_number(staff_client, line):
    response = staff_client.post(
        URL, {"name": "Copy", "phoneNumber": "+1 415-555-0100", "config": line.config_id}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["details"]["phoneNumber"] == ["Another phone line already has this number."]


def test_a_line_needs_an_existing_config(staff_client):
    response = staff_client.post(URL, {"name": "Orphan", "phoneNumber": "+14155550111", "config": 424242})

    assert response.status_code == 400
    assert "config" in response.json()["details"]


def test_twilio_sid_must_look_like_a_phone_number_sid(staff_client, config):
    response = staff_client.post(
        URL, {"name": "X", "phoneNumber": "+14155550111", "config": config.pk, "twilioSid": "AB123"}, format="json"
    )

    assert response.status_code == 400
    assert "twilioSid" in response.json()["details"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"name": "sup"}, ["Support US"]),
        ({"phoneNumber": "+14155550123"}, ["Support US"]),
        ({"phoneNumber": " 14155550123"}, ["Support US"]),  # an unencoded + arrives as a space
        ({"phoneNumber": "+44 20 7946 0958"}, ["Sales UK"]),
        ({"enabled": "false"}, ["Support US"]),
        ({"search": "4930"}, ["Billing"]),
        ({"search": "uk"}, ["Sales UK"]),
        ({"ordering": "phoneNumber"}, ["Support US", "Sales UK", "Billing"]),
        ({"ordering": "-name"}, ["Support US", "Sales UK", "Billing"]),
        ({"ordering": "name"}, ["Billing", "Sales UK", "Support US"]),
    ],
)
def test_list_filters_searches_and_orders(staff_client, lines, query, expected):
    assert names(staff_client.get(URL, query)) == expected


def test_list_filters_by_config_and_by_agent(staff_client, lines, other_agent):
    sales, support, billing = lines

    assert names(staff_client.get(URL, {"config": sales.config_id})) == ["Sales UK", "Billing"]
    assert names(staff_client.get(URL, {"agent": other_agent.pk})) == ["Support US"]


def test_retrieve_shows_the_line_with_agent_ids(staff_client, lines, agent, other_agent):
    support = lines[1]

    body = staff_client.get(f"{URL}/{support.pk}").json()

    assert body["name"] == "Support US"
    assert sorted(body["agents"]) == sorted([agent.pk, other_agent.pk])
    assert body["config"] == support.config_id


def test_put_replaces_the_line_and_its_agents(staff_client, lines, other_agent):
    sales = lines[0]

    response = staff_client.put(
        f"{URL}/{sales.pk}",
        {"name": "Sales", "phoneNumber": "+442079460958", "config": sales.config_id, "agents": [other_agent.pk]},
        format="json",
    )

    assert response.status_code == 200, response.content
    sales.refresh_from_db()
    assert sales.name == "Sales"
    assert list(sales.agents.all()) == [other_agent]


def test_put_keeping_its_own_number_is_not_a_duplicate(staff_client, line):
    response = staff_client.put(
        f"{URL}/{line.pk}", {"name": "Main", "phoneNumber": "+1 415 555 0100", "config": line.config_id}
    )

    assert response.status_code == 200, response.content


def test_patch_disables_a_line_and_empty_agents_means_every_agent(staff_client, lines):
    support = lines[1]

    response = staff_client.patch(f"{URL}/{support.pk}", {"enabled": True, "agents": []}, format="json")

    assert response.status_code == 200, response.content
    support.refresh_from_db()
    assert support.enabled is True
    assert not support.agents.exists()


def test_delete_removes_the_line_but_not_its_config_or_agents(staff_client, line, agent):
    line.agents.add(agent)

    response = staff_client.delete(f"{URL}/{line.pk}")

    assert response.status_code == 204
    assert not PhoneLine.objects.filter(pk=line.pk).exists()
    assert VoiceConfig.objects.filter(pk=line.config_id).exists()
    agent.refresh_from_db()


def test_an_unknown_agent_id_is_refused_and_nothing_is_saved(staff_client, config, agent):
    response = staff_client.post(
        URL,
        {"name": "Half", "phoneNumber": "+14155550177", "config": config.pk, "agents": [agent.pk, 987654]},
        format="json",
    )

    assert response.status_code == 400
    assert "agents" in response.json()["details"]
    assert not PhoneLine.objects.filter(name="Half").exists()
