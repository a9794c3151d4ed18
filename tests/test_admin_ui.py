"""The admin a contact-centre manager uses, and the agent console page, through Django's test client."""

import json
import re
from datetime import time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import call_sid, make_user
from voiceconfig import calls as call_services
from voiceconfig.admin_forms import week_intervals
from voiceconfig.admin_views import format_duration, overview_data
from voiceconfig.models import (
    AgentStatus,
    Call,
    CallEvent,
    CallLog,
    CallStage,
    CallStatus,
    IvrOption,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)


@pytest.fixture
def admin_client_logged_in(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def inline_management(prefix: str, total: int = 0, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def config_post(name: str = "Sales", **extra) -> dict:
    data = {
        "name": name,
        "greeting_text": "Hello",
        "voice": "Polly.Joanna",
        "language": "en-US",
        "ivr_max_attempts": "3",
        "ivr_timeout_seconds": "5",
        "time_zone": "Europe/London",
        "after_hours_action": "message",
        "after_hours_message": "Closed",
        "ring_timeout_seconds": "20",
        "max_queue_wait_seconds": "300",
        "voicemail_max_seconds": "120",
        "wrap_up_seconds": "10",
        "recording_policy": "off",
        "recording_retention_days": "0",
        # The form's outbound and callback section (issue 19), as the browser sends its defaults.
        "outbound_calls_per_agent_hour": "30",
        "callback_offer_after_seconds": "0",
        "callback_max_attempts": "3",
        "callback_retry_seconds": "300",
        **inline_management("business_hours"),
        **inline_management("holidays"),
        **inline_management("ivr_options"),
    }
    data.update(extra)
    return data


def live_call(n: int, *, line=None, agent=None, stage=CallStage.QUEUED, queued_seconds_ago: int = 0, **fields) -> Call:
    now = timezone.now()
    return Call.objects.create(
        call_sid=call_sid(n),
        from_number=f"+1415555{n:04d}",
        to_number=line.phone_number if line else "+14155550100",
        phone_line=line,
        agent=agent,
        status=CallStatus.IN_PROGRESS,
        stage=stage,
        queued_at=now - timedelta(seconds=queued_seconds_ago),
        **fields,
    )


# --- the live overview -------------------------------------------------------------------------------------------


def test_overview_shows_who_is_available_who_is_on_which_call_and_the_queue(admin_client_logged_in, line, make_agent):
    now = timezone.now()
    alice = make_agent("alice", display_name="Alice")
    call_services.agent_set_status(agent=alice, status=AgentStatus.AVAILABLE)
    call_services.agent_record_heartbeat(agent=alice)
    bob = make_agent("bob", display_name="Bob")
    VoiceAgent.objects.filter(pk=bob.pk).update(status=AgentStatus.IN_CALL, last_heartbeat_at=now)
    live_call(1, line=line, agent=bob, stage=CallStage.CONNECTED, queued_seconds_ago=200, answered_at=now)
    live_call(2, line=line, queued_seconds_ago=125)
    live_call(3, line=line, queued_seconds_ago=40)

    page = admin_client_logged_in.get(reverse("voice-overview"))

    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'data-testid="available-count">1<', html)
    assert re.search(r'data-testid="on-call-count">1<', html)
    assert re.search(r'data-testid="waiting-count">2<', html)
    assert re.search(r'data-testid="longest-wait">2 min 0[5-9] s<', html)
    assert re.search(r'data-agent="alice" data-status="available"', html)
    # Bob's row names the caller he is talking to and the line.
    bob_row = html[html.index('data-agent="bob"') :].split("</tr>")[0]
    assert "+14155550001" in bob_row and line.name in bob_row
    assert "no-store" in page["Cache-Control"]


def test_overview_counts_an_available_agent_without_heartbeats_as_offline(admin_client_logged_in, make_agent):
    carol = make_agent("carol")
    VoiceAgent.objects.filter(pk=carol.pk).update(
        status=AgentStatus.AVAILABLE, last_heartbeat_at=timezone.now() - timedelta(minutes=10)
    )

    html = admin_client_logged_in.get(reverse("voice-overview")).content.decode()

    assert re.search(r'data-testid="available-count">0<', html)
    assert 'data-agent="carol" data-status="offline"' in html
    assert "set available, but no heartbeat since" in html


def test_overview_reads_six_queries_however_many_agents_and_calls(
    admin_client_logged_in, line, make_agent, django_assert_num_queries
):
    def populate(start: int, count: int) -> None:
        for n in range(start, start + count):
            agent = make_agent(f"agent{n}")
            VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.IN_CALL, last_heartbeat_at=timezone.now())
            live_call(n, line=line, agent=agent, stage=CallStage.CONNECTED)
            live_call(1000 + n, line=line, queued_seconds_ago=n)

    populate(1, 3)
    # Agents, their live calls (prefetched), the queue's count and oldest wait, the first waiting callers;
    # departments and the queue by department (issue 16; none here, so no members' prefetch); one count of the
    # callbacks to make (issue 19): constant however many agents and calls.
    with django_assert_num_queries(7):
        overview_data()
    populate(10, 12)
    with django_assert_num_queries(7):
        data = overview_data()
    assert (data["on_call_count"], data["waiting_count"]) == (15, 15)
    page = admin_client_logged_in.get(reverse("voice-overview"))
    assert re.search(r'data-testid="on-call-count">15<', page.content.decode())


def test_overview_is_for_staff_only(client, agent):
    client.force_login(agent.user)
    page = client.get(reverse("voice-overview"))
    assert page.status_code == 302 and "/admin/login/" in page["Location"]


def test_admin_home_links_to_the_overview(admin_client_logged_in):
    html = admin_client_logged_in.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("voice-overview")}"' in html


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (59, "59 s"), (65, "1 min 05 s"), (3600, "1 h 00 min"), (None, "–")],
)
def test_waits_read_like_a_wallboard(seconds, shown):
    assert format_duration(seconds) == shown


# --- phone lines -------------------------------------------------------------------------------------------------


def test_line_form_stores_a_number_typed_with_spaces_in_e164(admin_client_logged_in, config):
    response = admin_client_logged_in.post(
        reverse("admin:voiceconfig_phoneline_add"),
        {"name": "Support", "phone_number": " +1 (415) 555-0123 ", "config": config.pk, "enabled": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert PhoneLine.objects.get(name="Support").phone_number == "+14155550123"


def test_line_form_refuses_a_number_that_cannot_exist(admin_client_logged_in, config):
    response = admin_client_logged_in.post(
        reverse("admin:voiceconfig_phoneline_add"),
        {"name": "Support", "phone_number": "+1 555", "config": config.pk, "enabled": "on"},
    )
    assert response.status_code == 200
    assert "not a valid phone number" in response.content.decode()
    assert not PhoneLine.objects.exists()


def test_line_form_offers_the_twilio_number_search(admin_client_logged_in):
    html = admin_client_logged_in.get(reverse("admin:voiceconfig_phoneline_add")).content.decode()
    assert 'data-search-url="/voiceconfig/phonenumbers"' in html
    assert 'data-input="id_phone_number"' in html
    assert "voice/number_search.js" in html


# --- configs: business hours, holidays and the IVR menu ------------------------------------------------------------


def test_config_form_saves_hours_holidays_and_menu_from_real_widgets(admin_client_logged_in):
    data = config_post(
        **inline_management("business_hours", total=2),
        **{
            "business_hours-0-weekday": "0",
            "business_hours-0-opens_at": "09:00",
            "business_hours-0-closes_at": "17:00",
            "business_hours-1-weekday": "4",
            "business_hours-1-opens_at": "22:00",
            "business_hours-1-closes_at": "02:00",
        },
        **inline_management("holidays", total=1),
        **{"holidays-0-date": "2026-12-25", "holidays-0-name": "Christmas Day"},
        **inline_management("ivr_options", total=1),
        **{
            "ivr_options-0-digit": "1",
            "ivr_options-0-label": "for sales",
            "ivr_options-0-keywords": "sales, buy",
            "ivr_options-0-action": "forward",
            "ivr_options-0-forward_to": "+44 20 7946 0958",
        },
    )
    response = admin_client_logged_in.post(reverse("admin:voiceconfig_voiceconfig_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]

    config = VoiceConfig.objects.get(name="Sales")
    assert [(h.weekday, h.opens_at, h.closes_at) for h in config.business_hours.all()] == [
        (0, time(9), time(17)),
        (4, time(22), time(2)),
    ]
    assert config.holidays.get().name == "Christmas Day"
    assert IvrOption.objects.get(config=config).forward_to == "+442079460958"

    html = admin_client_logged_in.get(reverse("admin:voiceconfig_voiceconfig_change", args=[config.pk])).content
    html = html.decode()
    assert 'type="time"' in html and 'type="date"' in html
    assert "09:00–17:00" in html and "22:00–02:00 (overnight)" in html


def test_config_form_refuses_overlapping_opening_ranges_and_names_them(admin_client_logged_in):
    data = config_post(
        **inline_management("business_hours", total=2),
        **{
            "business_hours-0-weekday": "0",
            "business_hours-0-opens_at": "09:00",
            "business_hours-0-closes_at": "12:00",
            "business_hours-1-weekday": "0",
            "business_hours-1-opens_at": "11:30",
            "business_hours-1-closes_at": "17:00",
        },
    )
    response = admin_client_logged_in.post(reverse("admin:voiceconfig_voiceconfig_add"), data)
    assert response.status_code == 200
    assert "Monday 09:00-12:00 overlaps Monday 11:30-17:00." in response.content.decode()
    assert not VoiceConfig.objects.filter(name="Sales").exists()


def test_sunday_night_into_monday_overlaps_monday_morning():
    sunday_night = week_intervals(6, time(22), time(6))
    monday_morning = week_intervals(0, time(5), time(9))
    assert sunday_night == [(6 * 1440 + 22 * 60, 7 * 1440), (0, 6 * 60)]
    assert monday_morning[0][0] < sunday_night[1][1]


def test_config_form_asks_for_the_number_of_a_forward_option(admin_client_logged_in):
    data = config_post(
        **inline_management("ivr_options", total=1),
        **{"ivr_options-0-digit": "2", "ivr_options-0-action": "forward"},
    )
    response = admin_client_logged_in.post(reverse("admin:voiceconfig_voiceconfig_add"), data)
    assert response.status_code == 200
    assert "A forward option needs the number to forward to." in response.content.decode()


def test_config_form_asks_for_the_number_to_forward_to_after_hours(admin_client_logged_in):
    response = admin_client_logged_in.post(
        reverse("admin:voiceconfig_voiceconfig_add"), config_post(after_hours_action="forward")
    )
    assert response.status_code == 200
    assert "Forwarding after hours needs a number to forward to." in response.content.decode()


# --- calls: the timeline -----------------------------------------------------------------------------------------


def test_call_page_shows_its_timeline_in_order(admin_client_logged_in, line, agent):
    call = live_call(7, line=line, agent=agent, stage=CallStage.CONNECTED)
    start = timezone.now()
    for offset, event, message in [
        (0, CallEvent.STATUS, "ringing"),
        (4, CallEvent.IVR_INPUT, "pressed 1"),
        (9, CallEvent.ROUTING, "offered to Alice"),
        (75, CallEvent.HOLD, "caller on hold"),
    ]:
        log = CallLog.objects.create(call=call, call_sid=call.call_sid, event=event, message=message)
        CallLog.objects.filter(pk=log.pk).update(created_at=start + timedelta(seconds=offset))

    html = admin_client_logged_in.get(reverse("admin:voiceconfig_call_change", args=[call.pk])).content.decode()

    timeline = html[html.index('class="voice-timeline"') :]
    positions = [timeline.index(text) for text in ("ringing", "pressed 1", "offered to Alice", "caller on hold")]
    assert positions == sorted(positions)
    assert "+1 min 15 s" in timeline
    assert "4 events" in html


# --- agents ------------------------------------------------------------------------------------------------------


def test_adding_an_agent_creates_their_login_in_one_step(admin_client_logged_in):
    response = admin_client_logged_in.post(
        reverse("admin:voiceconfig_voiceagent_add"),
        {"username": "dana.s", "password": "a-long-Passphrase-42", "display_name": "Dana S"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    agent = VoiceAgent.objects.get(user__username="dana.s")
    assert agent.identity == "dana_s" and agent.display_name == "Dana S"
    assert agent.user.check_password("a-long-Passphrase-42")
    login = Client().post("/api/auth/token", {"username": "dana.s", "password": "a-long-Passphrase-42"})
    assert login.status_code == 200


def test_adding_an_agent_can_link_an_existing_user(admin_client_logged_in):
    user = make_user("erin")
    response = admin_client_logged_in.post(reverse("admin:voiceconfig_voiceagent_add"), {"user": user.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert VoiceAgent.objects.get(user=user).identity == "erin"


def test_adding_an_agent_refuses_a_taken_login_and_a_weak_password(admin_client_logged_in):
    make_user("frank")
    response = admin_client_logged_in.post(
        reverse("admin:voiceconfig_voiceagent_add"), {"username": "Frank", "password": "x"}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    response = admin_client_logged_in.post(
        reverse("admin:voiceconfig_voiceagent_add"), {"username": "gina", "password": "123"}
    )
    assert "too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="gina").exists()


# --- the agent console page --------------------------------------------------------------------------------------


def test_console_page_loads_the_sdk_and_its_sounds_from_our_own_server(client):
    page = client.get("/console/")
    assert page.status_code == 200
    html = page.content.decode()
    config = json.loads(re.search(r'<script id="console-config" type="application/json">(.*?)</script>', html).group(1))
    assert config["urls"]["login"] == "/api/auth/token"
    assert config["urls"]["verify2fa"] == "/api/auth/2fa/verify"
    assert set(config["sdk"]["sounds"]) >= {"incoming", "outgoing", "disconnect", "dtmf0", "dtmfs", "dtmfh"}
    assert all(url.startswith("/static/vendor/twilio-voice-sdk/sounds/") for url in config["sdk"]["sounds"].values())
    # Nothing on the page comes from a CDN.
    assert not re.search(r'(src|href)="https?://', html)
    if config["sdk"]["available"]:
        assert 'src="/static/vendor/twilio-voice-sdk/twilio.min.js"' in html
    assert 1 <= config["heartbeatSeconds"] < config["heartbeatTimeoutSeconds"]


def test_transfer_targets_list_other_agents_available_ones_first(agent_client, agent, make_agent):
    busy = make_agent("zed", display_name="Zed")
    VoiceAgent.objects.filter(pk=busy.pk).update(status=AgentStatus.IN_CALL, last_heartbeat_at=timezone.now())
    free = make_agent("yan", display_name="Yan")
    call_services.agent_set_status(agent=free, status=AgentStatus.AVAILABLE)
    call_services.agent_record_heartbeat(agent=free)
    stale = make_agent("xia", display_name="Xia")
    VoiceAgent.objects.filter(pk=stale.pk).update(
        status=AgentStatus.AVAILABLE, last_heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    body = agent_client.get("/console/agents").json()

    rows = [(row["displayName"], row["available"]) for row in body["results"]]
    assert rows == [("Yan", True), ("Xia", False), ("Zed", False)]
    assert agent.pk not in [row["id"] for row in body["results"]]


def test_transfer_targets_need_a_login(client):
    assert client.get("/console/agents").status_code == 401


def test_after_collectstatic_the_app_serves_its_own_static_files_as_under_gunicorn(settings, tmp_path):
    # Production: `collectstatic`, then WhiteNoise answers /static/ before any view, with no web server in front.
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)
    client = Client()
    script = client.get("/static/console/console.js")
    assert script.status_code == 200 and "javascript" in script["Content-Type"]
    assert client.get("/static/voice/admin.css").status_code == 200
    if not (tmp_path / "vendor" / "twilio-voice-sdk" / "sounds" / "incoming.wav").exists():
        pytest.skip("the console assets are not built (make console-assets)")
    assert client.get("/static/vendor/twilio-voice-sdk/sounds/incoming.wav")["Content-Type"] == "audio/wav"
