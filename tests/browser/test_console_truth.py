"""The console shows the truth at once: the server's word on the agent's call, whatever the softphone heard.

Routing is played by the test writing what routing writes (the call reserved for the agent, the agent ringing);
the page learns of it only from its heartbeats, as it does when the browser cannot reach Twilio.
"""

import re
import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import console_login
from tests.conftest import call_sid, make_user
from voiceconfig import calls as call_services
from voiceconfig import services
from voiceconfig.models import AgentStatus, Call, CallStage, CallStatus, VoiceAgent

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEARTBEAT_PATH = re.compile(r"/voicetwilio/agent/\d+/heartbeats$")


def offer_call(agent: VoiceAgent, line, n: int = 1) -> Call:
    """What routing does when it picks `agent` for a waiting caller: reserve the agent, ring their softphone."""
    call = Call.objects.create(
        call_sid=call_sid(n),
        from_number="+14155550142",
        to_number=line.phone_number,
        phone_line=line,
        agent=agent,
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.QUEUED,
        started_at=timezone.now() - timedelta(seconds=20),
        queued_at=timezone.now() - timedelta(seconds=15),
        conference_name=f"call-{n}",
    )
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING, status_changed_at=timezone.now())
    return call


def go_available(page) -> None:
    page.click(".switch")
    page.wait_for_selector("#status-pill[data-status=available]")


def activity_lines(page) -> list[str]:
    # Each line is "<time> <text>", newest first; the text is what the agent reads.
    return page.evaluate("[...document.querySelectorAll('#activity li')].map((li) => li.lastChild.textContent.trim())")


def test_a_ringing_call_is_on_the_card_within_a_fast_poll_though_the_browser_cannot_reach_twilio(
    transactional_db, open_page, console_assets, line
):
    agent = services.agent_create(user=make_user("lou"), display_name="Lou")
    page, _ = open_page()  # the real SDK, which cannot reach Twilio from here
    # The browser's clock is 7 minutes slow: the timer must still count from the server's answer.
    page.clock.install(time=datetime.now() - timedelta(minutes=7))
    console_login(page, "lou")
    page.wait_for_selector("#device-text:text('Twilio cannot be reached')")
    go_available(page)
    assert page.inner_text("#available-label") == "Available"

    call = offer_call(agent, line)
    offered = time.monotonic()
    page.wait_for_selector("#ringing-panel:not([hidden])", timeout=5_000)
    seen_after = time.monotonic() - offered
    print(f"ringing call on the card {seen_after:.2f} s after routing offered it")
    # A 1.5 s poll plus the request's own time: under 2 s on a quiet machine, with room for a loaded one.
    assert seen_after < 2.5
    assert page.inner_text("#ringing-from") == "+14155550142"
    assert page.inner_text("#ringing-line") == "Calling Main (+14155550100)"
    assert "cannot reach Twilio" in page.inner_text("#ringing-note")
    assert page.is_hidden("#no-call")
    assert page.is_hidden("#incoming-banner")  # nothing rang in the softphone: only the server knew
    assert page.inner_text("#available-label") == "Ringing"
    assert page.is_disabled("#available-switch")
    assert "A call from +14155550142 is ringing for you." in activity_lines(page)

    # Lou answers on another device; the server records the answer 65 s ago (the page missed it).
    Call.objects.filter(pk=call.pk).update(
        stage=CallStage.CONNECTED, answered_at=timezone.now() - timedelta(seconds=65)
    )
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.IN_CALL)
    page.wait_for_selector("#call-panel:not([hidden])", timeout=4_000)
    minutes, seconds = page.inner_text("#call-timer").split(":")
    assert minutes == "1" and 5 <= int(seconds) <= 9, page.inner_text("#call-timer")
    assert page.inner_text("#call-state") == "Connected"
    assert page.inner_text("#call-line") == "Main (+14155550100)"
    assert page.inner_text("#available-label") == "In a call"
    assert page.is_hidden("#ringing-panel")

    # The caller hangs up; the agent is in wrap-up. The card and the switch say so within a poll (5 s in a call).
    Call.objects.filter(pk=call.pk).update(status=CallStatus.COMPLETED, ended_at=timezone.now())
    VoiceAgent.objects.filter(pk=agent.pk).update(
        status=AgentStatus.WRAP_UP, wrap_up_until=timezone.now() + timedelta(seconds=60)
    )
    page.wait_for_selector("#no-call:not([hidden])", timeout=7_000)
    assert page.inner_text("#available-label") == "Wrap-up"
    assert page.is_enabled("#available-switch")  # switching on ends the wrap-up early
    assert activity_lines(page)[0] == "The call has ended."


def test_a_call_that_stops_ringing_leaves_the_card_with_a_word_on_why(
    transactional_db, open_page, console_assets, line
):
    agent = services.agent_create(user=make_user("max"), display_name="Max")
    page, _ = open_page()
    console_login(page, "max")
    go_available(page)
    call = offer_call(agent, line)
    page.wait_for_selector("#ringing-panel:not([hidden])", timeout=5_000)

    # Nobody answers: routing moves on (the call leaves Max, Max is available again).
    Call.objects.filter(pk=call.pk).update(agent=None)
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.AVAILABLE)
    page.wait_for_selector("#no-call:not([hidden])", timeout=4_000)
    assert activity_lines(page)[0] == "The call stopped ringing: the caller hung up, or it went to another agent."
    assert page.inner_text("#available-label") == "Available"


def test_the_console_polls_fast_only_while_it_matters(transactional_db, open_page, console_assets, settings):
    settings.AGENT_HEARTBEAT_INTERVAL_SECONDS = 30
    services.agent_create(user=make_user("ned"), display_name="Ned")
    page, _ = open_page(fake_sdk=True)
    beats: list[float] = []
    page.on("request", lambda request: HEARTBEAT_PATH.search(request.url) and beats.append(time.monotonic()))
    console_login(page, "ned")
    page.wait_for_selector("#heartbeat-text:text-matches('^sent ')")

    # Offline (the status a new agent has): one heartbeat at sign-in, the next one 30 s later.
    page.wait_for_timeout(4_500)
    assert len(beats) == 1, beats

    go_available(page)
    page.wait_for_timeout(5_000)
    since = [at for at in beats if at > beats[0] + 4]
    gaps = [later - earlier for earlier, later in zip(since, since[1:], strict=False)]
    print(f"heartbeats after going available, gaps: {[round(gap, 2) for gap in gaps]}")
    assert len(since) >= 3, since
    assert all(1.2 <= gap <= 2.5 for gap in gaps), gaps


def test_softphone_errors_are_one_plain_sentence_each(transactional_db, open_page, console_assets, line):
    agent = services.agent_create(user=make_user("oli"), display_name="Oli")
    page, _ = open_page(fake_sdk=True)
    console_login(page, "oli")
    page.wait_for_selector("#device-text:text('ready: calls ring in this browser')")

    raw = "UnknownError (31000): An unknown error has occurred. See error details for more information."
    for _ in range(3):  # the SDK repeats itself while it retries
        page.evaluate("(message) => window.__fakeTwilio.device.emit('error', {code: 31000, message})", raw)
    page.evaluate("window.__fakeTwilio.device.emit('error', {code: 31401, message: 'PermissionDeniedError (31401)'})")

    lines = activity_lines(page)
    assert lines[:2] == [
        "The browser did not let the softphone use your microphone; allow it in the address bar and reload the "
        "page (Twilio error 31401).",
        "The softphone hit an unexpected problem talking to Twilio; if calls stop ringing, reload the page "
        "(Twilio error 31000).",
    ]
    assert not any("UnknownError" in line or "information" in line for line in lines)

    # An error on a call reads the same way; a code Twilio may add later still gets a sentence.
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.AVAILABLE, last_heartbeat_at=timezone.now())
    page.evaluate("window.__fakeTwilio.ring({From: '+14155550100'})")
    page.wait_for_selector("#incoming-banner:not([hidden])")
    page.evaluate("window.__fakeTwilio.calls[0].emit('error', {code: 31005, message: 'ConnectionError (31005)'})")
    page.evaluate("window.__fakeTwilio.device.emit('error', {code: 53123, message: 'SomethingNew (53123)'})")
    assert activity_lines(page)[:2] == [
        "The softphone lost its connection to Twilio; calls cannot ring in this browser until it is back, and it "
        "keeps trying (Twilio error 53123).",
        "The call's connection to Twilio broke; the caller may have been cut off (Twilio error 31005).",
    ]


def test_the_transfer_list_says_why_no_agent_can_take_the_call(transactional_db, open_page, console_assets, line):
    from tests.console_support import connected_call

    agent = services.agent_create(user=make_user("pat"), display_name="Pat")
    busy = services.agent_create(user=make_user("quinn"), display_name="Quinn")
    VoiceAgent.objects.filter(pk=busy.pk).update(status=AgentStatus.IN_CALL, last_heartbeat_at=timezone.now())
    gone = services.agent_create(user=make_user("ray"), display_name="Ray")
    VoiceAgent.objects.filter(pk=gone.pk).update(
        status=AgentStatus.AVAILABLE, last_heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    connected_call(agent=agent, line=line)
    page, watch = open_page(fake_sdk=True)
    console_login(page, "pat")
    page.wait_for_selector("#call-panel:not([hidden])")

    page.check("input[name=transfer-type][value=client]")
    page.wait_for_selector("#transfer-agent-note:not([hidden])")
    options = page.locator("#transfer-agent option").all_inner_texts()
    assert options == ["No agent can take a call now", "Quinn (In a call)", "Ray (Available)"]
    assert page.locator("#transfer-agent option:checked").inner_text() == "No agent can take a call now"
    assert page.inner_text("#transfer-agent-note").startswith("Nobody else is available:")
    assert page.evaluate("[...document.querySelectorAll('#transfer-agent option')].every((o) => o.disabled)")
    page.click("#transfer-submit")
    assert page.inner_text("#call-error") == "Choose an available agent to transfer to."

    # Quinn becomes free: choosing "to an agent" again reloads the list, and the note goes.
    call_services.agent_set_status(agent=busy, status=AgentStatus.AVAILABLE)
    VoiceAgent.objects.filter(pk=busy.pk).update(last_heartbeat_at=timezone.now())
    page.check("input[name=transfer-type][value=phonenumber]")
    page.check("input[name=transfer-type][value=client]")
    page.wait_for_selector("#transfer-agent-note", state="hidden")
    assert page.locator("#transfer-agent option").all_inner_texts()[0] == "Quinn"
    assert page.input_value("#transfer-agent") == str(busy.pk)


def test_the_transfer_list_of_the_only_agent_says_so(transactional_db, open_page, console_assets, line):
    from tests.console_support import connected_call

    agent = services.agent_create(user=make_user("sam"), display_name="Sam")
    connected_call(agent=agent, line=line)
    page, _ = open_page(fake_sdk=True)
    console_login(page, "sam")
    page.wait_for_selector("#call-panel:not([hidden])")
    page.check("input[name=transfer-type][value=client]")
    page.wait_for_selector("#transfer-agent-note:not([hidden])")
    assert page.locator("#transfer-agent option").all_inner_texts() == ["No other agents"]
    assert (
        page.inner_text("#transfer-agent-note") == "You are the only agent set up. Transfer to a phone number instead."
    )
