"""The pages shown in docs/ on a seeded database: the overview counts what was seeded, the console shows the caller
ringing and then the call, each page fits its window, and each screenshot is taken.

The screenshots go to a temporary folder; `VOICE_SCREENSHOTS_DIR=docs pytest -k screenshots` refreshes the ones in
docs/. Twilio cannot be reached from here, so the console's incoming call is rung through the stand-in SDK that
the browser tests use; everything else on both pages is the real application on a seeded database.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.browser.conftest import admin_login, console_login
from tests.conftest import call_sid, make_user
from voiceconfig import services
from voiceconfig.models import AgentStatus, Call, CallStage, CallStatus, PhoneLine, VoiceAgent, VoiceConfig

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OUT = os.environ.get("VOICE_SCREENSHOTS_DIR", "")


def _agent(username: str, name: str, status: str, *, heartbeat_ago: int | None = 5, **fields) -> VoiceAgent:
    agent = services.agent_create(user=make_user(username), display_name=name)
    now = timezone.now()
    heartbeat = None if heartbeat_ago is None else now - timedelta(seconds=heartbeat_ago)
    VoiceAgent.objects.filter(pk=agent.pk).update(status=status, last_heartbeat_at=heartbeat, **fields)
    agent.refresh_from_db()
    return agent


def _call(n: int, line: PhoneLine, caller: str, *, waited: int, agent=None, stage=CallStage.QUEUED, **fields) -> Call:
    return Call.objects.create(
        call_sid=call_sid(n),
        from_number=caller,
        to_number=line.phone_number,
        phone_line=line,
        agent=agent,
        status=CallStatus.IN_PROGRESS,
        stage=stage,
        queued_at=timezone.now() - timedelta(seconds=waited),
        **fields,
    )


def fits_its_window(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_docs_screenshots_show_the_seeded_pages(transactional_db, open_page, console_assets, tmp_path):
    out = Path(OUT) if OUT else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    now = timezone.now()
    config = VoiceConfig.objects.create(name="Customer support", time_zone="America/Los_Angeles")
    support = PhoneLine.objects.create(name="Support line", phone_number="+14155550100", config=config)
    sales = PhoneLine.objects.create(name="Sales line", phone_number="+14155550177", config=config)
    make_user("manager", staff=True)
    alice = _agent("alice", "Alice Martin", AgentStatus.AVAILABLE)
    _agent("priya", "Priya Shah", AgentStatus.AVAILABLE, heartbeat_ago=12)
    bob = _agent("bob", "Bob Okafor", AgentStatus.IN_CALL)
    carmen = _agent("carmen", "Carmen Ruiz", AgentStatus.WRAP_UP, wrap_up_until=now + timedelta(seconds=25))
    dev = _agent("dev", "Dev Patel", AgentStatus.RINGING)
    _agent("eve", "Eve Larsen", AgentStatus.UNAVAILABLE, heartbeat_ago=40)
    _agent("farid", "Farid Haddad", AgentStatus.AVAILABLE, heartbeat_ago=600)
    _call(1, support, "+442079460958", waited=190, agent=bob, stage=CallStage.CONNECTED, answered_at=now)
    _call(2, sales, "+14155550143", waited=155)
    _call(3, support, "+16175550199", waited=70, agent=dev)
    _call(4, support, "+13125550110", waited=21)
    Call.objects.filter(agent=carmen).delete()

    admin, _ = open_page(viewport={"width": 1280, "height": 860})
    admin_login(admin, "manager")
    admin.goto("/admin/voice/overview/")
    admin.wait_for_selector("[data-testid=available-count]")
    # Seeded: alice and priya available with a live console (farid's heartbeat is 10 minutes old), bob on a
    # call; three callers waiting (dev is being rung for one of them).
    assert admin.inner_text("[data-testid=available-count]").strip() == "2"
    assert admin.inner_text("[data-testid=waiting-count]").strip() == "3"
    assert fits_its_window(admin)
    admin.screenshot(path=str(out / "admin-overview.png"))

    ringing = _call(5, support, "+14155550123", waited=8, agent=alice)
    agent, _ = open_page(fake_sdk=True, viewport={"width": 1200, "height": 760})
    console_login(agent, "alice")
    agent.wait_for_selector("#device-text:text('ready: calls ring in this browser')")
    VoiceAgent.objects.filter(pk=alice.pk).update(status=AgentStatus.RINGING)
    agent.evaluate("window.__fakeTwilio.ring({From: '+14155550100'})")
    agent.wait_for_selector("#incoming-from:text('+14155550123')")
    assert fits_its_window(agent)
    agent.screenshot(path=str(out / "console-incoming.png"))

    agent.click("#answer")
    Call.objects.filter(pk=ringing.pk).update(stage=CallStage.CONNECTED, answered_at=timezone.now())
    VoiceAgent.objects.filter(pk=alice.pk).update(status=AgentStatus.IN_CALL)
    agent.wait_for_selector("#call-panel:not([hidden])")
    agent.wait_for_selector("#status-pill[data-status=in_call]")
    assert fits_its_window(agent)
    agent.screenshot(path=str(out / "console-call.png"))
    assert png_size(out / "admin-overview.png") == (1280, 860)
    assert png_size(out / "console-incoming.png") == png_size(out / "console-call.png") == (1200, 760)
