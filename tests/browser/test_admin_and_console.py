"""A manager sets up a line in the admin, an agent goes available in the console, the manager sees it."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import admin_login, console_login
from tests.conftest import call_sid, make_user
from voiceconfig import calls as call_services
from voiceconfig import services
from voiceconfig.models import (
    AgentStatus,
    BusinessHours,
    Call,
    CallEvent,
    CallLog,
    CallStage,
    CallStatus,
    Holiday,
    IvrOption,
    PhoneLine,
    VoiceAgent,
    VoiceConfig,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_admin_sets_up_a_line_and_an_agent_who_goes_available_and_shows_on_the_overview(
    transactional_db, open_page, console_assets
):
    make_user("boss", staff=True)
    admin, admin_watch = open_page()
    admin_login(admin, "boss")

    # A config with weekday hours, a holiday and a one-key menu, all with real widgets.
    admin.click("text=Live overview")
    admin.wait_for_selector("[data-testid=available-count]")
    admin.goto("/admin/voiceconfig/voiceconfig/add/")
    admin.fill("#id_name", "Support")
    admin.select_option("#id_time_zone", "Europe/London")
    admin.click("#business_hours-group .add-row a")
    admin.select_option("[name=business_hours-0-weekday]", "0")
    admin.fill("[name=business_hours-0-opens_at]", "09:00")
    admin.fill("[name=business_hours-0-closes_at]", "17:30")
    admin.click("#holidays-group .add-row a")
    admin.fill("[name=holidays-0-date]", "2026-12-25")
    admin.fill("[name=holidays-0-name]", "Christmas Day")
    admin.click("#ivr_options-group .add-row a")
    admin.select_option("[name=ivr_options-0-digit]", "1")
    admin.fill("[name=ivr_options-0-label]", "for support")
    # "Forward to" appears only for a forward option.
    assert not admin.is_visible("[name=ivr_options-0-forward_to]")
    admin.select_option("[name=ivr_options-0-action]", "forward")
    assert admin.is_visible("[name=ivr_options-0-forward_to]")
    admin.select_option("[name=ivr_options-0-action]", "route")
    admin.click("input[name=_save]")
    admin.wait_for_selector(".messagelist .success")
    config = VoiceConfig.objects.get(name="Support")
    hours = BusinessHours.objects.get(config=config)
    assert (hours.weekday, f"{hours.opens_at:%H:%M}", f"{hours.closes_at:%H:%M}") == (0, "09:00", "17:30")
    assert Holiday.objects.get(config=config).name == "Christmas Day"
    assert IvrOption.objects.get(config=config).digit == "1"

    # A line: the number typed as printed; the Twilio search says plainly that Twilio cannot be reached.
    admin.goto("/admin/voiceconfig/phoneline/add/")
    admin.fill("#id_name", "Support line")
    admin.fill("#id_phone_number", "+1 415 555 0100")
    admin_watch.expect_failure(502, r"^/voiceconfig/phonenumbers$")
    admin.click(".voice-number-search summary")
    admin.fill(".voice-ns-area", "415")
    admin.click(".voice-ns-search")
    admin.wait_for_selector(".voice-number-search-status.voice-error")
    assert admin.inner_text(".voice-number-search-status").startswith("Twilio could not be reached")
    admin.select_option("#id_config", label="Support")
    admin.click("input[name=_save]")
    admin.wait_for_selector(".messagelist .success")
    assert PhoneLine.objects.get(name="Support line").phone_number == "+14155550100"

    # An agent, with their login, in one form.
    admin.goto("/admin/voiceconfig/voiceagent/add/")
    admin.fill("#id_username", "dana")
    admin.fill("#id_password", "pass-word-123")
    admin.fill("#id_display_name", "Dana Agent")
    admin.click("input[name=_save]")
    admin.wait_for_selector(".messagelist .success")
    dana = VoiceAgent.objects.get(user__username="dana")

    # The agent signs in to the console and goes available; Twilio is out of reach and the page says so.
    agent, _ = open_page()
    console_login(agent, "dana")
    agent.wait_for_selector("#console:not([hidden])")
    assert agent.inner_text("#agent-name") == "Dana Agent"
    agent.wait_for_selector("#twilio-banner:not([hidden])")
    assert "Twilio cannot be reached" in agent.inner_text("#twilio-banner")
    agent.click(".switch")
    agent.wait_for_selector("#status-pill[data-status=available]")
    assert agent.inner_text("#heartbeat-text").startswith("sent ")
    dana.refresh_from_db()
    assert dana.status == AgentStatus.AVAILABLE and dana.last_heartbeat_at is not None

    # The manager's overview shows her available.
    admin.goto("/admin/voice/overview/")
    assert admin.inner_text("[data-testid=available-count]") == "1"
    assert admin.get_attribute("tr[data-agent=dana]", "data-status") == "available"
    assert "Dana Agent" in admin.inner_text("tr[data-agent=dana]")


def test_every_admin_page_loads_without_javascript_errors(transactional_db, open_page, console_assets):
    make_user("boss", staff=True)
    config = VoiceConfig.objects.create(name="Support", time_zone="Europe/London")
    BusinessHours.objects.create(config=config, weekday=0, opens_at="09:00", closes_at="17:00")
    Holiday.objects.create(config=config, date="2026-12-25", name="Christmas Day")
    IvrOption.objects.create(config=config, digit="1", label="sales", action="forward", forward_to="+14155550123")
    line = PhoneLine.objects.create(name="Main", phone_number="+14155550100", config=config)
    agent = services.agent_create(user=make_user("alice"), display_name="Alice")
    call = Call.objects.create(
        call_sid=call_sid(1), from_number="+14155550199", to_number=line.phone_number, phone_line=line, agent=agent
    )
    CallLog.objects.create(call=call, call_sid=call.call_sid, event=CallEvent.STATUS, message="ringing")
    page, watch = open_page()
    admin_login(page, "boss")

    paths = ["/admin/", "/admin/voice/overview/", "/admin/auth/user/"]
    for model, pk in [
        ("voiceconfig", config.pk),
        ("phoneline", line.pk),
        ("voiceagent", agent.pk),
        ("call", call.pk),
        ("calllog", CallLog.objects.get().pk),
    ]:
        paths += [f"/admin/voiceconfig/{model}/", f"/admin/voiceconfig/{model}/{pk}/change/"]
        if model not in ("call", "calllog"):  # records of what Twilio told us: nobody adds one (docs/admin.md)
            paths.append(f"/admin/voiceconfig/{model}/add/")
    paths += ["/admin/voiceconfig/twofactordevice/", "/admin/voiceconfig/trusteddevice/", "/console/"]
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
        watch.assert_clean()

    # The config page puts each table under its own heading, and the call page shows the timeline.
    page.goto(f"/admin/voiceconfig/voiceconfig/{config.pk}/change/")
    order = page.evaluate(
        """() => ['ivr_options-group', 'business_hours-group', 'holidays-group']
              .map((id) => document.getElementById(id))
              .map((el) => el.previousElementSibling.id || el.previousElementSibling.querySelector('h2').textContent)"""
    )
    assert order == ["IVR menu", "Business hours", "business_hours-group"]
    assert page.is_visible("[name=ivr_options-0-forward_to]")
    assert not page.is_visible("[name=ivr_options-0-message]")
    page.goto(f"/admin/voiceconfig/call/{call.pk}/change/")
    assert "ringing" in page.inner_text(".voice-timeline")


def test_console_asks_for_the_two_factor_code_and_explains_a_wrong_one(transactional_db, open_page, console_assets):
    import pyotp

    from voiceconfig.models import TwoFactorDevice

    agent = services.agent_create(user=make_user("erin"), display_name="Erin")
    secret = pyotp.random_base32()
    TwoFactorDevice.objects.create(user=agent.user, secret=secret, enabled=True, confirmed_at=timezone.now())
    page, watch = open_page()
    watch.expect_failure(400, r"^/api/auth/2fa/verify$")

    console_login(page, "erin")
    page.wait_for_selector("#twofactor-card:not([hidden])")
    totp = pyotp.TOTP(secret)
    wrong = next(code for code in ("000000", "111111", "222222") if not totp.verify(code, valid_window=2))
    page.fill("#twofactor-code", wrong)
    page.click("#twofactor-submit")
    page.wait_for_selector("#twofactor-error:not([hidden])")
    assert re.fullmatch(r"That code is not right\. Tries left: \d\.", page.inner_text("#twofactor-error"))

    page.fill("#twofactor-code", totp.now())
    page.click("#twofactor-submit")
    page.wait_for_selector("#console:not([hidden])")
    assert page.inner_text("#agent-name") == "Erin"


def test_console_stays_usable_when_twilio_cannot_be_reached(transactional_db, open_page, console_assets):
    agent = services.agent_create(user=make_user("fay"), display_name="Fay")
    page, _ = open_page()
    console_login(page, "fay")
    page.wait_for_selector("#twilio-banner:not([hidden])")
    assert page.inner_text("#device-text") == "Twilio cannot be reached"

    page.click(".switch")
    page.wait_for_selector("#status-pill[data-status=available]")
    # Available but unreachable: the page warns that calls cannot ring here.
    assert "cannot ring in this browser" in page.inner_text("#availability-note")
    page.click(".switch")
    page.wait_for_selector("#status-pill[data-status=unavailable]")
    agent.refresh_from_db()
    assert agent.status == AgentStatus.UNAVAILABLE

    # A reload keeps the agent signed in (refresh token in this tab's session storage).
    page.reload()
    page.wait_for_selector("#console:not([hidden])")
    page.click("#logout")
    page.wait_for_selector("#login-card:not([hidden])")
    agent.refresh_from_db()
    assert agent.status == AgentStatus.OFFLINE


def test_incoming_call_rings_is_answered_held_and_hung_up(transactional_db, open_page, console_assets, line):
    agent = services.agent_create(user=make_user("gus"), display_name="Gus")
    services.agent_create(user=make_user("hal"), display_name="Hal")
    page, watch = open_page(fake_sdk=True)
    console_login(page, "gus")
    page.wait_for_selector("#device-text:text('ready: calls ring in this browser')")
    sounds = page.evaluate("window.__fakeTwilio.device.options.sounds")
    assert sounds["incoming"].startswith("/static/vendor/twilio-voice-sdk/sounds/")

    # The platform reserves Gus for a caller and Twilio rings his softphone.
    now = timezone.now()
    call = Call.objects.create(
        call_sid=call_sid(42),
        from_number="+14155550142",
        to_number=line.phone_number,
        phone_line=line,
        agent=agent,
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.QUEUED,
        queued_at=now - timedelta(seconds=30),
        conference_name="call-42",
        conference_sid="CF" + "1" * 32,
        agent_call_sid=call_sid(43),
    )
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING)
    page.evaluate("(sid) => window.__fakeTwilio.ring({From: '+14155550100', CallSid: sid})", call_sid(43))
    page.wait_for_selector("#incoming-banner:not([hidden])")
    page.wait_for_selector("#incoming-from:text('+14155550142')")

    page.click("#answer")
    assert page.evaluate("window.__fakeTwilio.calls[0].accepted")
    Call.objects.filter(pk=call.pk).update(stage=CallStage.CONNECTED, answered_at=timezone.now())
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.IN_CALL)
    page.wait_for_selector("#call-panel:not([hidden])")
    assert page.inner_text("#call-from") == "+14155550142"
    assert page.is_hidden("#incoming-banner")

    # Hold needs Twilio: the page says it could not be reached, and the call goes on.
    watch.expect_failure(502, r"^/voicetwilio/calls/\d+:onhold$")
    page.click("#hold")
    page.wait_for_selector("#call-error:not([hidden])")
    assert page.inner_text("#call-error").startswith("Twilio could not be reached")
    assert page.is_enabled("#hangup")

    # A transfer to a number that cannot exist is caught before it is sent; agents are offered by name.
    page.fill("#transfer-number", "+1 555")
    page.click("#transfer-submit")
    assert "international form" in page.inner_text("#call-error")
    page.check("input[name=transfer-type][value=client]")
    assert "Hal" in page.inner_text("#transfer-agent")

    # Twilio reports the call completed as Gus hangs up.
    Call.objects.filter(pk=call.pk).update(status=CallStatus.COMPLETED, ended_at=timezone.now())
    page.click("#hangup")
    assert page.evaluate("window.__fakeTwilio.calls[0].disconnected")
    page.wait_for_selector("#no-call:not([hidden])")

    # A second call can be declined.
    page.evaluate("window.__fakeTwilio.ring({From: '+14155550100'})")
    page.wait_for_selector("#incoming-banner:not([hidden])")
    page.click("#decline")
    assert page.evaluate("window.__fakeTwilio.calls[1].rejected")
    assert page.is_hidden("#incoming-banner")


def test_overview_refreshes_itself_when_an_agent_changes(transactional_db, open_page):
    make_user("boss", staff=True)
    agent = services.agent_create(user=make_user("ida"), display_name="Ida")
    page, _ = open_page()
    admin_login(page, "boss")
    page.goto("/admin/voice/overview/?refresh=2")
    assert page.get_attribute("tr[data-agent=ida]", "data-status") == "offline"
    page.evaluate("() => { window.stillTheSamePage = true; }")

    call_services.agent_set_status(agent=agent, status=AgentStatus.AVAILABLE)
    call_services.agent_record_heartbeat(agent=agent)

    page.wait_for_selector("tr[data-agent=ida][data-status=available]", timeout=8_000)
    assert page.inner_text("[data-testid=available-count]") == "1"
    # Refreshed in place, not reloaded (a reload would lose the scroll position and this flag).
    assert page.evaluate("() => window.stillTheSamePage") is True


@pytest.fixture
def emulated_twilio(open_page, live_server, settings):
    """The project's local Twilio emulator (twilio_emulator/) in this process, with the app pointed at it."""
    from twilio_emulator.factory import Credentials, build

    server = build(app_url=live_server.url, credentials=Credentials.from_settings(settings), virtual=False)
    server.start()
    settings.TWILIO_API_BASE_URL = server.url
    yield server
    server.stop()


def test_admin_picks_a_number_from_twilios_search_results(transactional_db, open_page, emulated_twilio, config):
    make_user("boss", staff=True)
    page, _ = open_page()
    admin_login(page, "boss")
    page.goto("/admin/voiceconfig/phoneline/add/")
    page.fill("#id_name", "New line")

    page.click(".voice-number-search summary")
    page.select_option(".voice-ns-country", "US")
    page.fill(".voice-ns-area", "415")
    page.click(".voice-ns-search")
    page.wait_for_selector(".voice-number-results:not([hidden]) tbody tr")
    first = page.inner_text(".voice-number-results tbody tr:first-child td:first-child")
    assert re.fullmatch(r"\+1415\d{7}", first)
    assert "number(s) for sale" in page.inner_text(".voice-number-search-status")

    page.click(".voice-number-results tbody tr:first-child .voice-ns-use")
    assert page.input_value("#id_phone_number") == first
    page.select_option("#id_config", label=config.name)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert PhoneLine.objects.get(name="New line").phone_number == first


def test_agent_holds_and_resumes_a_real_call_through_emulated_twilio(
    transactional_db, open_page, emulated_twilio, line
):
    import requests

    agent = services.agent_create(user=make_user("jo"), display_name="Jo")
    line.agents.add(agent)
    page, _ = open_page(fake_sdk=True)
    console_login(page, "jo")
    page.wait_for_selector("#device-text:text('ready: calls ring in this browser')")
    page.click(".switch")
    page.wait_for_selector("#status-pill[data-status=available]")

    # A caller rings the line; the app routes them to Jo, whose (emulated) softphone leg answers.
    placed = requests.post(
        emulated_twilio.url + "/_emulator/calls",
        json={
            "to": line.phone_number,
            "from": "+14155550142",
            "steps": [{"hangup": True, "on": "connected", "after": 60}],
        },
        timeout=5,
    )
    assert placed.status_code == 201, placed.text
    page.evaluate("window.__fakeTwilio.ring({From: '+14155550100'})")
    page.wait_for_selector("#incoming-banner:not([hidden])")
    page.click("#answer")
    page.wait_for_selector("#call-panel:not([hidden])")
    page.wait_for_selector("#call-from:text('+14155550142')", timeout=15_000)
    call = Call.objects.get(call_sid=placed.json()["callSid"])
    for _ in range(150):
        call.refresh_from_db()
        if call.stage == CallStage.CONNECTED:
            break
        page.wait_for_timeout(100)
    assert call.stage == CallStage.CONNECTED and call.agent_id == agent.pk

    page.click("#hold")
    page.wait_for_selector("#resume:not([hidden])")
    assert page.inner_text("#call-state") == "On hold"
    call.refresh_from_db()
    assert call.on_hold

    page.click("#resume")
    page.wait_for_selector("#hold:not([hidden])")
    call.refresh_from_db()
    assert not call.on_hold
    assert [log.event for log in call.logs.filter(event__in=[CallEvent.HOLD, CallEvent.RESUME])] == [
        CallEvent.HOLD,
        CallEvent.RESUME,
    ]
    assert page.is_hidden("#call-error")


def test_console_sets_up_required_two_factor_login_and_shows_the_backup_codes_once(
    transactional_db, open_page, console_assets
):
    import pyotp

    from voiceconfig.models import TwoFactorDevice

    agent = services.agent_create(user=make_user("kim"), display_name="Kim")
    TwoFactorDevice.objects.create(user=agent.user, required=True)
    page, _ = open_page()

    console_login(page, "kim")
    page.wait_for_selector("#enrol-box:not([hidden])")
    secret = page.inner_text("#enrol-secret")
    assert page.get_attribute("#enrol-uri", "href").startswith("otpauth://totp/")
    page.fill("#twofactor-code", pyotp.TOTP(secret).now())
    page.click("#twofactor-submit")

    page.wait_for_selector("#backup-card:not([hidden])")
    codes = page.locator("#backup-codes li").all_inner_texts()
    assert len(codes) >= 5 and len(set(codes)) == len(codes)
    page.click("#backup-done")
    page.wait_for_selector("#console:not([hidden])")
    assert page.inner_text("#backup-codes") == ""
    assert TwoFactorDevice.objects.get(user=agent.user).enabled
