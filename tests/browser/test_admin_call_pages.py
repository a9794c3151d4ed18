"""The admin pages a manager reads every day fit a 1366x768 laptop screen, and their screenshots are these pages.

Each test opens the real page in Chromium at 1366x768, fails when anything makes the page wider than the window
(horizontal scrolling), and saves a screenshot: into `docs/` with `VOICE_SCREENSHOTS_DIR=docs` (the ones the docs
show), else into the test's temporary folder, so the check runs every time without touching the repository.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.browser.conftest import admin_login
from tests.conftest import call_sid, make_user
from voiceconfig import services
from voiceconfig.models import (
    BusinessHours,
    Call,
    CallEvent,
    CallLog,
    CallStage,
    CallStatus,
    Holiday,
    IvrOption,
    PhoneLine,
    VoiceConfig,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("VOICE_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def overflow(page) -> dict:
    """How far the page reaches past the window's right edge, and the widest element doing it."""
    return page.evaluate(
        """() => {
        const width = document.documentElement.clientWidth;
        let worst = null, right = 0;
        for (const el of document.querySelectorAll('#content *')) {
          const box = el.getBoundingClientRect();
          if (box.width && box.right > right) { right = box.right; worst = el; }
        }
        // A box that scrolls sideways inside the page (the admin's result list does) hides columns just the same.
        const clipped = [...document.querySelectorAll('#content *')].filter((el) => {
          const style = getComputedStyle(el).overflowX;
          return (style === 'auto' || style === 'scroll') && el.scrollWidth > el.clientWidth + 1;
        }).map((el) => el.tagName + '.' + el.className + ' ' + el.scrollWidth + '>' + el.clientWidth);
        return {
          clipped,
          scroll: document.documentElement.scrollWidth - width,
          right: Math.round(right - width),
          element: worst ? worst.tagName + '.' + worst.className + '#' + (worst.id || worst.name || '') : '',
        };
      }"""
    )


def assert_fits(page) -> None:
    measured = overflow(page)
    assert measured["scroll"] <= 0 and measured["right"] <= 0, f"wider than the window: {measured}"
    assert measured["clipped"] == [], f"scrolls sideways inside the page: {measured}"


def seed(now):
    """A morning's calls on two lines: finished, abandoned, voicemail, one caller waiting and one talking."""
    config = VoiceConfig.objects.create(name="Customer support", time_zone="Europe/London")
    support = PhoneLine.objects.create(name="Support line", phone_number="+14155550100", config=config)
    sales = PhoneLine.objects.create(name="Sales line", phone_number="+14155550177", config=config)
    alice = services.agent_create(user=make_user("alice"), display_name="Alice Martin")
    bob = services.agent_create(user=make_user("bob"), display_name="Bob Okafor")

    def call(n, line, caller, minutes_ago, **fields):
        started = now - timedelta(minutes=minutes_ago)
        return Call.objects.create(
            call_sid=call_sid(n), from_number=caller, to_number=line.phone_number, phone_line=line,
            started_at=started, **fields,
        )  # fmt: skip

    done = call(
        1, support, "+447700900123", 42, agent=alice, status=CallStatus.COMPLETED, stage=CallStage.CONNECTED,
        queued_at=now - timedelta(minutes=42), answered_at=now - timedelta(minutes=41, seconds=40),
        ended_at=now - timedelta(minutes=35), wait_seconds=20, talk_seconds=400, hold_seconds=35,
        recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.mp3", recording_duration=398,
    )  # fmt: skip
    call(2, sales, "+442079460958", 30, status=CallStatus.COMPLETED, stage=CallStage.ABANDONED,
         queued_at=now - timedelta(minutes=30), ended_at=now - timedelta(minutes=28), wait_seconds=95)  # fmt: skip
    call(3, support, "+33612345678", 20, status=CallStatus.COMPLETED, stage=CallStage.VOICEMAIL, voicemail=True,
         queued_at=now - timedelta(minutes=20), ended_at=now - timedelta(minutes=15), wait_seconds=300)  # fmt: skip
    call(4, sales, "+14155550142", 3, agent=bob, status=CallStatus.IN_PROGRESS, stage=CallStage.CONNECTED,
         queued_at=now - timedelta(minutes=3), answered_at=now - timedelta(minutes=2, seconds=30),
         wait_seconds=30)  # fmt: skip
    call(5, support, "+4915112345678", 1, status=CallStatus.IN_PROGRESS, stage=CallStage.QUEUED,
         queued_at=now - timedelta(seconds=50))  # fmt: skip

    start = done.started_at
    for seconds, event, status, message, data in [
        (0, CallEvent.STATUS, "ringing", "", {}),
        (1, CallEvent.STATUS, "in-progress", "", {}),
        (6, CallEvent.IVR_INPUT, "in-progress", "Chose 1: support.", {"digits": "1"}),
        (7, CallEvent.ROUTING, "", "Offered to Alice Martin.", {"agent": alice.pk}),
        (8, CallEvent.AGENT, "initiated", "", {"agent": alice.pk}),
        (10, CallEvent.AGENT, "ringing", "", {"agent": alice.pk}),
        (20, CallEvent.AGENT, "in-progress", "", {"agent": alice.pk}),
        (21, CallEvent.CONFERENCE, "", "participant-join", {"CallSid": done.call_sid}),
        (130, CallEvent.HOLD, "", "Alice Martin put the caller on hold.", {}),
        (165, CallEvent.RESUME, "", "Alice Martin took the caller off hold.", {}),
        (400, CallEvent.NOTE, "", "Refund promised by e-mail.", {}),
        (420, CallEvent.STATUS, "completed", "", {}),
        (421, CallEvent.RECORDING, "completed", done.recording_url, {"RecordingDuration": "398"}),
    ]:
        log = CallLog.objects.create(
            call=done, call_sid=done.call_sid, event=event, call_status=status, message=message, data=data
        )
        CallLog.objects.filter(pk=log.pk).update(created_at=start + timedelta(seconds=seconds))
    return config, done


def test_the_call_list_fits_the_screen_and_live_calls_count(transactional_db, open_page, shots):
    seed(timezone.now())
    make_user("boss", staff=True)
    page, _ = open_page(viewport=LAPTOP)
    admin_login(page, "boss")

    page.goto("/admin/voiceconfig/call/")
    page.wait_for_selector("#result_list")

    headers = [text.strip() for text in page.locator("#result_list thead th").all_text_contents() if text.strip()]
    assert headers == ["Time", "Caller", "Line", "Agent", "Status", "Wait", "Talk"]
    assert_fits(page)
    live = page.locator(".voice-live").first
    before = live.inner_text()
    page.wait_for_timeout(2200)
    assert live.inner_text() != before, "a live call's wait does not count"
    page.screenshot(path=str(shots / "admin-call-list.png"))


def test_the_call_page_fits_the_screen_and_reads_in_plain_words(transactional_db, open_page, shots):
    _, done = seed(timezone.now())
    make_user("boss", staff=True)
    page, _ = open_page(viewport=LAPTOP)
    admin_login(page, "boss")

    page.goto(f"/admin/voiceconfig/call/{done.pk}/change/")
    page.wait_for_selector(".voice-timeline")

    lines = page.locator(".voice-timeline li").all_inner_texts()
    assert "Call came in from +447700900123" in lines[0]
    assert any("Alice Martin answered" in line for line in lines)
    assert not any("=" in line for line in lines)
    assert page.locator("input[name=_save]").count() == 0
    assert_fits(page)
    page.screenshot(path=str(shots / "admin-call-page.png"), full_page=True)


def test_the_config_form_fits_the_screen_with_the_ivr_delete_column_visible(transactional_db, open_page, shots):
    config, _ = seed(timezone.now())
    for weekday in range(5):
        BusinessHours.objects.create(config=config, weekday=weekday, opens_at="08:00", closes_at="18:00")
    Holiday.objects.create(config=config, date="2026-12-25", name="Christmas Day")
    IvrOption.objects.create(config=config, digit="1", keywords="support, help", label="for support")
    IvrOption.objects.create(
        config=config, digit="2", keywords="sales", label="for sales", action="forward", forward_to="+14155550177"
    )
    IvrOption.objects.create(
        config=config, digit="3", label="for our opening hours", action="message", message="We open at 8."
    )
    make_user("boss", staff=True)
    page, _ = open_page(viewport=LAPTOP)
    admin_login(page, "boss")

    page.goto(f"/admin/voiceconfig/voiceconfig/{config.pk}/change/")
    page.wait_for_selector("#ivr_options-group")

    page.screenshot(path=str(shots / "admin-config-form.png"), full_page=True)
    assert_fits(page)
    delete = page.locator("#ivr_options-group input[name$='-DELETE']").first
    delete.scroll_into_view_if_needed()
    box = delete.bounding_box()
    assert box is not None and box["x"] + box["width"] <= LAPTOP["width"], box
