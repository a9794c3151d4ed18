"""`manage.py load_demo` creates the demo data, can run any number of times, leaves the demo agents free, and
its logins work. The logins come from the command itself (docs/demo.md shows them; tests/test_docs_examples.py
runs the documented commands with them)."""

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import call_sid
from tests.twilio.fixtures import twiml_of
from voiceconfig.management.commands import load_demo
from voiceconfig.models import (
    AgentStatus,
    Call,
    CallLog,
    CallStage,
    CallStatus,
    IvrOption,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)
from voicetwilio.hours import is_open

CREDENTIALS = {
    load_demo.ADMIN_USERNAME: load_demo.ADMIN_PASSWORD,
    "alice": load_demo.AGENT_PASSWORD,
    "bob": load_demo.AGENT_PASSWORD,
}


def snapshot() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "configs": VoiceConfig.objects.count(),
        "ivr": IvrOption.objects.count(),
        "lines": PhoneLine.objects.count(),
        "agents": VoiceAgent.objects.count(),
    }


@pytest.fixture
def demo(db):
    call_command("load_demo", stdout=io.StringIO())


def test_it_creates_the_config_line_two_agents_and_admin(demo):
    config = VoiceConfig.objects.get(name="Demo support")
    line = PhoneLine.objects.get(name="Demo main line")

    assert line.phone_number == "+14155550100"
    assert line.config == config and line.enabled
    assert config.ivr_options.count() == 2
    assert sorted(agent.user.username for agent in line.agents.all()) == ["alice", "bob"]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser


def test_the_demo_line_keeps_san_franciscos_time_with_sample_hours_and_a_holiday(demo):
    config = VoiceConfig.objects.get(name="Demo support")
    holiday = config.holidays.get()
    los_angeles = ZoneInfo("America/Los_Angeles")

    assert config.time_zone == "America/Los_Angeles"  # the line is a +1 415 number
    assert config.business_hours.count() == 14  # a day and a night shift, every day
    assert (
        holiday.date.month == 12 and holiday.date.day == 25 and holiday.date > timezone.localdate(timezone=los_angeles)
    )
    # Open now and at any hour of an ordinary day (a newcomer can try it whenever), closed on the holiday.
    assert is_open(config=config, at=timezone.now())
    ordinary_day = date(holiday.date.year, 12, 10)
    for hour in (0, 3, 7, 12, 18, 19, 23):
        assert is_open(
            config=config, at=datetime(2026, 12, 10, hour, 30, tzinfo=los_angeles).replace(year=ordinary_day.year)
        )
    assert not is_open(
        config=config, at=datetime.combine(holiday.date, datetime.min.time(), los_angeles).replace(hour=12)
    )


def test_the_menu_prompt_does_not_list_the_options_the_app_reads_after_it(demo):
    config = VoiceConfig.objects.get(name="Demo support")

    assert [option.label for option in config.ivr_options.all()] == ["for sales", "for support"]
    for word in ("sales", "support", "press 1", "press 2"):
        assert word not in config.ivr_prompt.lower()


def test_demo_data_of_an_earlier_version_is_brought_up_to_date_unless_edited(db):
    config = VoiceConfig.objects.create(
        name="Demo support", time_zone=load_demo.OLD_TIME_ZONE, ivr_prompt=load_demo.OLD_IVR_PROMPT
    )
    IvrOption.objects.create(config=config, digit="1", label="sales")
    edited = VoiceConfig.objects.create(name="Other", time_zone="Europe/London")

    call_command("load_demo", stdout=io.StringIO())

    config.refresh_from_db()
    assert (config.time_zone, config.ivr_prompt) == ("America/Los_Angeles", load_demo.DEMO_IVR_PROMPT)
    assert config.ivr_options.get().label == "for sales"
    edited.refresh_from_db()
    assert edited.time_zone == "Europe/London"


def test_running_it_again_changes_nothing(demo):
    before = snapshot()

    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())

    assert snapshot() == before == {"users": 3, "configs": 1, "ivr": 2, "lines": 1, "agents": 2}


def test_running_it_again_ends_a_live_demo_call_and_frees_its_agent(demo):
    """Issue 12: a demo call that never ended kept alice "In a call", and `make demo` then failed with a 409."""
    line = PhoneLine.objects.get(phone_number=load_demo.DEMO_NUMBER)
    alice = VoiceAgent.objects.get(user__username="alice")
    now = timezone.now()
    talking = Call.objects.create(
        call_sid=call_sid(1),
        phone_line=line,
        agent=alice,
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.CONNECTED,
        queued_at=now,
        answered_at=now,
    )
    waiting = Call.objects.create(
        call_sid=call_sid(2), phone_line=line, status=CallStatus.IN_PROGRESS, stage=CallStage.QUEUED, queued_at=now
    )
    VoiceAgent.objects.filter(pk=alice.pk).update(status=AgentStatus.IN_CALL)
    out = io.StringIO()

    call_command("load_demo", stdout=out)

    assert not Call.objects.active().exists()
    talking.refresh_from_db()
    waiting.refresh_from_db()
    assert (talking.status, talking.stage) == (CallStatus.COMPLETED, CallStage.CONNECTED)  # talked, then ended
    assert talking.ended_at is not None
    assert (waiting.status, waiting.stage) == (CallStatus.COMPLETED, CallStage.ABANDONED)
    assert CallLog.objects.filter(call=talking, data__source="load_demo").exists()
    assert set(VoiceAgent.objects.values_list("status", flat=True)) == {AgentStatus.OFFLINE}
    assert "Ended 2 live demo call(s)" in out.getvalue()


def test_a_live_call_on_another_line_with_other_agents_is_left_alone(demo, make_agent):
    config = VoiceConfig.objects.create(name="Elsewhere")
    line = PhoneLine.objects.create(name="Elsewhere", phone_number="+14155550199", config=config)
    agent = make_agent("carol")
    other = Call.objects.create(
        call_sid=call_sid(3), phone_line=line, agent=agent, status=CallStatus.IN_PROGRESS, stage=CallStage.CONNECTED
    )
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.IN_CALL)

    call_command("load_demo", stdout=io.StringIO())

    other.refresh_from_db()
    agent.refresh_from_db()
    assert other.status == CallStatus.IN_PROGRESS and agent.status == AgentStatus.IN_CALL


def test_it_keeps_a_password_someone_changed(demo):
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-by-the-owner-42")
    admin.save()

    call_command("load_demo", stdout=io.StringIO())

    admin.refresh_from_db()
    assert admin.check_password("changed-by-the-owner-42")


def test_the_demo_admin_login_opens_the_admin(demo):
    username, password = load_demo.ADMIN_USERNAME, load_demo.ADMIN_PASSWORD
    client = Client()

    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})

    assert response.status_code == 302, response.content[:500]
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("username", ["alice", "bob"])
def test_the_demo_agent_logins_get_a_token_that_sees_their_own_record(demo, username):
    password = CREDENTIALS[username]

    login = APIClient().post("/api/auth/token", {"username": username, "password": password}, format="json")

    assert login.status_code == 200, login.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    agents = client.get("/voiceconfig/voiceagents").json()["results"]
    assert [agent["identity"] for agent in agents] == [username]


def test_a_caller_on_the_demo_line_hears_each_menu_option_once(demo, twilio):
    root = twiml_of(twilio.incoming(to=load_demo.DEMO_NUMBER))

    spoken = " ".join(say.text or "" for say in root.iter("Say")).lower()
    assert spoken.count("sales") == 1 and spoken.count("support") == 2  # "Demo Support" greets, the option once
    assert spoken.count("press 1") == 1 and spoken.count("press 2") == 1
