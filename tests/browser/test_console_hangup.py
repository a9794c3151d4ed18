"""The console's Hang up ends a call its browser has no softphone leg on, through the server (issue 12).

The agent answered elsewhere (the page only knows the call from its heartbeats): Hang up asks
POST /voicetwilio/calls/{id}:hangup. With Twilio unreachable the page says so and the call goes on; once Twilio
answers (the gateway stood in for in the live server's process) the call ends and the agent wraps up.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import console_login
from tests.browser.test_console_truth import activity_lines, go_available
from tests.conftest import make_user
from tests.console_support import connected_call
from voiceconfig import services
from voiceconfig.models import AgentStatus, Call, CallStatus, VoiceAgent
from voicetwilio import gateway

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_hang_up_without_a_softphone_leg_ends_the_call_through_the_server(
    transactional_db, open_page, console_assets, line, monkeypatch
):
    agent = services.agent_create(user=make_user("ida"), display_name="Ida")
    page, watch = open_page()  # the real SDK, which cannot reach Twilio from here: no leg in this browser
    console_login(page, "ida")
    go_available(page)
    call = connected_call(agent=agent, line=line, answered_at=timezone.now() - timedelta(seconds=30))
    page.wait_for_selector("#call-panel:not([hidden])", timeout=7_000)

    # Twilio unreachable: the page says so, and the call is still on.
    watch.expect_failure(502, r"^/voicetwilio/calls/\d+:hangup$")
    page.click("#hangup")
    page.wait_for_selector("#call-error:not([hidden])")
    assert page.inner_text("#call-error").startswith("Twilio could not be reached")
    assert Call.objects.get(pk=call.pk).status == CallStatus.IN_PROGRESS

    # Twilio answers now.
    ended: list[tuple[str, str]] = []
    monkeypatch.setattr(gateway, "end_call", lambda *, call_sid: ended.append(("call", call_sid)))
    monkeypatch.setattr(gateway, "end_conference", lambda *, conference_sid: ended.append(("conf", conference_sid)))
    page.click("#hangup")
    page.wait_for_selector("#no-call:not([hidden])", timeout=7_000)

    assert ended == [("call", call.call_sid), ("conf", call.conference_sid)]
    assert "You hung up the call." in activity_lines(page)
    assert re.search(r"Wrap-up", page.inner_text("#available-label"))
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED
    assert VoiceAgent.objects.get(pk=agent.pk).status == AgentStatus.WRAP_UP
