"""Every admin page opens for a superuser with data; search, filters, read-only Twilio fields and bulk actions work."""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.conftest import call_sid
from voiceconfig.admin_forms import E164FormField
from voiceconfig.models import (
    AgentStatus,
    BusinessHours,
    Call,
    CallLog,
    CallStatus,
    Holiday,
    IvrOption,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def data(line, agent, other_agent):
    """A row in every table the admin shows."""
    config = line.config
    BusinessHours.objects.create(config=config, weekday=0, opens_at="09:00", closes_at="17:00")
    Holiday.objects.create(config=config, date="2026-12-25", name="Christmas")
    IvrOption.objects.create(config=config, digit="1", keywords="sales", label="sales")
    line.agents.add(agent)
    spare = PhoneLine.objects.create(name="Spare", phone_number="+14155550199", config=config, enabled=False)
    call = Call.objects.create(
        call_sid=call_sid(1), from_number="+447700900123", to_number=line.phone_number, phone_line=line,
        agent=agent, status=CallStatus.COMPLETED, conference_sid="CF" + "1" * 32,
    )  # fmt: skip
    CallLog.objects.create(call=call, call_sid=call.call_sid, event="status", call_status="ringing", message="rang")
    CallLog.objects.create(call=call, call_sid=call.call_sid, event="ivr_input", message="caller pressed 1")
    return {"config": config, "line": line, "spare": spare, "call": call}


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED])
def test_every_changelist_add_and_change_page_opens(admin_client, staff_user, data, model, model_admin):
    changelist = admin_client.get(admin_url(model, "changelist"))
    assert changelist.status_code == 200, model

    request = RequestFactory().get("/")
    request.user = staff_user
    add = admin_client.get(admin_url(model, "add"))
    assert add.status_code == (200 if model_admin.has_add_permission(request) else 403), model

    obj = model._default_manager.order_by("pk").first()
    if obj is not None:
        change = admin_client.get(admin_url(model, "change", obj.pk))
        assert change.status_code == 200, model


@pytest.mark.parametrize(
    ("model", "query", "expected", "absent"),
    [
        (VoiceConfig, "Support", "Support", None),
        (PhoneLine, "0199", "Spare", "Main"),
        (VoiceAgent, "bob", "Bob", "Alice"),
        (Call, "900123", "+447700900123", None),
        (CallLog, "pressed", "caller pressed 1", "rang"),
    ],
)
def test_search_finds_rows_by_their_searchable_fields(admin_client, data, model, query, expected, absent):
    response = admin_client.get(admin_url(model, "changelist"), {"q": query})

    assert response.status_code == 200
    html = response.content.decode()
    assert expected in html
    if absent:
        assert f">{absent}<" not in html and f">{absent} (" not in html


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED])
def test_every_filter_choice_of_every_changelist_opens(admin_client, staff_user, data, model, model_admin):
    request = RequestFactory().get(admin_url(model, "changelist"))
    request.user = staff_user
    changelist: ChangeList = model_admin.get_changelist_instance(request)

    queries = [choice["query_string"] for spec in changelist.filter_specs for choice in spec.choices(changelist)]
    for query in queries:
        response = admin_client.get(admin_url(model, "changelist") + query)
        assert response.status_code == 200, (model, query)
        assert b"errornote" not in response.content, (model, query)


def test_the_enabled_filter_narrows_the_lines(admin_client, data):
    html = admin_client.get(admin_url(PhoneLine, "changelist"), {"enabled__exact": "0"}).content.decode()

    assert "Spare" in html
    assert "+14155550100" not in html


def test_the_call_page_shows_its_log(admin_client, data):
    html = admin_client.get(admin_url(Call, "change", data["call"].pk)).content.decode()

    assert "rang" in html
    assert "caller pressed 1" in html


def _input_names(html: str) -> set[str]:
    return set(re.findall(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"', html))


def test_no_field_of_a_call_is_editable_even_for_a_superuser(admin_client, data):
    html = admin_client.get(admin_url(Call, "change", data["call"].pk)).content.decode()

    # Staff never rewrite what Twilio told us (issue 11.6); tests/test_admin_calls.py covers the record view.
    assert _input_names(html) <= {"csrfmiddlewaretoken"}
    assert data["call"].call_sid in html


@pytest.mark.parametrize(
    ("model", "key", "fields"),
    [
        (CallLog, "call", ["call_sid", "created_at", "dedupe_key", "sequence_number"]),
        (VoiceAgent, "agent", ["status_changed_at", "last_heartbeat_at", "last_call_ended_at", "created_at"]),
        (VoiceConfig, "config", ["created_at", "updated_at"]),
        (PhoneLine, "line", ["created_at", "updated_at"]),
    ],
)
def test_timestamps_and_sids_are_read_only_everywhere(admin_client, data, agent, model, key, fields):
    obj = {"call": CallLog.objects.first(), "agent": agent}.get(key) or data.get(key)

    editable = _input_names(admin_client.get(admin_url(model, "change", obj.pk)).content.decode())

    assert not editable & set(fields)


def test_bulk_actions_disable_and_enable_lines(admin_client, data):
    url = admin_url(PhoneLine, "changelist")
    ids = [str(data["line"].pk), str(data["spare"].pk)]

    disabled = admin_client.post(url, {"action": "disable_lines", "_selected_action": ids}, follow=True)
    assert not PhoneLine.objects.filter(enabled=True).exists()
    assert "2 line(s) disabled" in disabled.content.decode()

    admin_client.post(url, {"action": "enable_lines", "_selected_action": [str(data["spare"].pk)]})
    assert list(PhoneLine.objects.filter(enabled=True)) == [data["spare"]]


def test_bulk_action_sets_idle_agents_unavailable_and_leaves_busy_ones(admin_client, data, agent, other_agent):
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.AVAILABLE)
    VoiceAgent.objects.filter(pk=other_agent.pk).update(status=AgentStatus.IN_CALL)

    response = admin_client.post(
        admin_url(VoiceAgent, "changelist"),
        {"action": "set_unavailable", "_selected_action": [str(agent.pk), str(other_agent.pk)]},
        follow=True,
    )

    agent.refresh_from_db()
    other_agent.refresh_from_db()
    assert agent.status == AgentStatus.UNAVAILABLE
    assert other_agent.status == AgentStatus.IN_CALL
    assert "1 agent(s) on a call were left as they are" in response.content.decode()


def test_an_agent_on_a_live_call_cannot_be_deleted_from_the_admin(admin_client, data, other_agent):
    Call.objects.create(call_sid=call_sid(5), agent=other_agent, status=CallStatus.IN_PROGRESS)

    page = admin_client.get(admin_url(VoiceAgent, "delete", other_agent.pk))
    admin_client.post(admin_url(VoiceAgent, "delete", other_agent.pk), {"post": "yes"})
    admin_client.post(
        admin_url(VoiceAgent, "changelist"),
        {"action": "delete_selected", "_selected_action": [str(other_agent.pk)], "post": "yes"},
    )

    assert page.status_code == 403
    assert VoiceAgent.objects.filter(pk=other_agent.pk).exists()
    assert Call.objects.get(call_sid=call_sid(5)).agent == other_agent


def test_a_config_a_line_uses_cannot_be_deleted_from_the_admin(admin_client, data):
    response = admin_client.post(admin_url(VoiceConfig, "delete", data["config"].pk), {"post": "yes"})

    assert response.status_code == 200  # Django's "cannot delete: protected" page
    assert "Main" in response.content.decode()
    assert VoiceConfig.objects.filter(pk=data["config"].pk).exists()


def test_the_admin_needs_a_staff_login(client, data):
    response = client.get(admin_url(Call, "changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("+44 20 7946 0958", "+442079460958"), (" 0044 20 7946 0958 ", "+442079460958"), ("", "")],
)
def test_admin_number_fields_store_what_a_manager_types_as_e164(typed, stored):
    assert E164FormField(required=False).clean(typed) == stored


def test_admin_number_fields_refuse_a_number_without_its_country_code():
    with pytest.raises(ValidationError, match="international form"):
        E164FormField().clean("020 7946 0958")
