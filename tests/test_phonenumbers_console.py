"""GET /voiceconfig/phonenumbers (decision 11): Twilio's numbers for sale, for the admin's number picker."""

import pytest
from rest_framework.test import APIClient

from voicetwilio import gateway

NUMBER = gateway.AvailableNumber(
    phone_number="+14155550142",
    friendly_name="(415) 555-0142",
    country_code="US",
    locality="San Francisco",
    region="CA",
    postal_code="94103",
    address_requirements="none",
    beta=False,
    voice=True,
    sms=True,
    mms=False,
    fax=False,
)


@pytest.fixture
def searches(monkeypatch):
    asked: list[dict] = []

    def search(**kwargs):
        asked.append(kwargs)
        return [NUMBER]

    monkeypatch.setattr(gateway, "search_available_numbers", search)
    return asked


def test_staff_search_numbers_by_country(staff_client, searches):
    response = staff_client.get("/voiceconfig/phonenumbers?countryCode=US")

    assert response.status_code == 200
    assert response.json() == {
        "phoneNumberList": [
            {
                "phoneNumber": "+14155550142",
                "friendlyName": "(415) 555-0142",
                "countryCode": "US",
                "locality": "San Francisco",
                "region": "CA",
                "postalCode": "94103",
                "addressRequirements": "none",
                "beta": False,
                "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
            }
        ]
    }
    assert searches == [{"country_code": "US", "kind": "local", "area_code": "", "contains": "", "limit": 20}]


def test_the_specs_spelling_and_lowercase_codes_work(staff_client, searches):
    assert staff_client.get("/voiceconfig/phonenumbers?CountryCode=gb").status_code == 200
    assert searches[0]["country_code"] == "GB"


def test_filters_are_passed_on(staff_client, searches):
    response = staff_client.get(
        "/voiceconfig/phonenumbers?countryCode=US&areaCode=415&contains=55*&type=tollFree&limit=5"
    )

    assert response.status_code == 200
    assert searches == [{"country_code": "US", "kind": "tollFree", "area_code": "415", "contains": "55*", "limit": 5}]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("countryCode=XX", "countryCode"),
        ("countryCode=USA", "countryCode"),
        ("", "countryCode"),
        ("countryCode=US&type=premium", "type"),
        ("countryCode=US&areaCode=4a5", "areaCode"),
        ("countryCode=US&contains=5-5", "contains"),
        ("countryCode=US&limit=0", "limit"),
        ("countryCode=US&limit=1000", "limit"),
    ],
)
def test_bad_searches_are_400(staff_client, searches, query, field):
    response = staff_client.get(f"/voiceconfig/phonenumbers?{query}")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    assert searches == []


def test_an_unknown_country_says_so(staff_client, searches):
    message = staff_client.get("/voiceconfig/phonenumbers?countryCode=XX").json()["message"]

    assert message == "countryCode: Unknown country code 'XX'; use a two-letter ISO 3166-1 code such as US or GB."


def test_agents_cannot_search_numbers(agent_client, searches):
    assert agent_client.get("/voiceconfig/phonenumbers?countryCode=US").status_code == 403


def test_number_search_needs_authentication(db):
    assert APIClient().get("/voiceconfig/phonenumbers?countryCode=US").status_code == 401
