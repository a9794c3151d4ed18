"""The console's dialer in Chromium (issue 19): type or key in a number, pick the line when there are several,
dial (the fake SDK records `Device.connect`'s params); a premium number is refused with the guard's message and
nothing is dialled; "Call back" on a missed call dials its caller and says which call it returns."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import console_login
from tests.browser.test_console_truth import activity_lines
from tests.conftest import make_user
from voiceconfig import services
from voiceconfig.models import Call, CallDirection, CallStage, CallStatus, PhoneLine

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def connected(page) -> list[dict]:
    return page.evaluate("() => window.__fakeTwilio.connected")


def test_the_agent_dials_from_the_line_picked_is_refused_a_premium_number_and_calls_back_a_missed_call(
    transactional_db, open_page, console_assets, line, config
):
    agent = services.agent_create(user=make_user("pia"), display_name="Pia")
    sales = PhoneLine.objects.create(name="Sales", phone_number="+14155550101", config=config)
    line.agents.add(agent)
    sales.agents.add(agent)
    missed = Call.objects.create(
        call_sid="CA" + "7" * 32,
        from_number="+14155550177",
        to_number=line.phone_number,
        phone_line=line,
        direction=CallDirection.INBOUND,
        status=CallStatus.COMPLETED,
        stage=CallStage.ABANDONED,
        started_at=timezone.now() - timedelta(minutes=5),
        ended_at=timezone.now() - timedelta(minutes=4),
    )
    page, watch = open_page(fake_sdk=True)
    console_login(page, "pia")
    page.wait_for_selector("#device-text:text('ready: calls ring in this browser')")

    # Two lines: the agent picks the one to call from.
    page.wait_for_selector("#dial-line:not([hidden])")
    assert page.eval_on_selector_all("#dial-line option", "(options) => options.map((o) => o.textContent)") == [
        "Main (+14155550100)",
        "Sales (+14155550101)",
    ]
    page.select_option("#dial-line", label="Sales (+14155550101)")
    page.fill("#dial-number", "+1415555")
    for key in "0142":
        page.click(f"#dialpad button[data-key='{key}']")
    page.click("#dial-submit")
    page.wait_for_function("() => window.__fakeTwilio.connected.length === 1")
    assert connected(page) == [{"To": "+14155550142", "line": str(sales.pk)}]

    # A premium-rate number: the guard's message, a line in the activity, and nothing dialled.
    watch.expect_failure(400, r"^/voicetwilio/dial/check$")
    page.fill("#dial-number", "+19005550142")
    page.click("#dial-submit")
    page.wait_for_selector("#dial-error:not([hidden])")
    refusal = "+19005550142 is a premium-rate number (+1900): it cannot be dialled."
    assert page.inner_text("#dial-error") == refusal
    assert f"Dial refused: {refusal}" in activity_lines(page)
    assert len(connected(page)) == 1

    # "Call back" on the missed call dials its caller and names the call it returns.
    page.wait_for_selector("#missed-calls li:has-text('+14155550177 (hung up waiting)')")
    page.click("#missed-calls li:has-text('+14155550177') button:text('Call back')")
    page.wait_for_function("() => window.__fakeTwilio.connected.length === 2")
    assert connected(page)[1] == {"To": "+14155550177", "line": str(sales.pk), "returns": str(missed.pk)}
    assert page.is_hidden("#dial-error")
    watch.assert_clean()
