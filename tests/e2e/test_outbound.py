"""Outbound calls and callbacks end to end (issue 19): the emulator places the softphone's TwiML-application
request and the scheduler runs the real `manage.py run_due_callbacks` against the app under gunicorn."""

from dataclasses import replace

import pytest

from tests.e2e.test_calls import assert_agents, assert_clean, heard, logs, said_on_timeline

pytestmark = pytest.mark.e2e

LINE = "+14155550131"


def rest_requests(result) -> list[str]:
    """What the app asked the emulator's REST API, in order."""
    return [entry.text for entry in result.entries if entry.who == "api"]


def test_click_to_dial_with_hold_and_transfer(e2e_stack):
    result = e2e_stack.play("click_to_dial.yaml")

    assert_clean(result)
    voice = result.webhooks("/voicetwilio/voice")[0]
    assert voice.data["params"]["From"] == "client:alice" and voice.data["params"]["To"] == "+14155550142"
    assert voice.data["params"]["ApplicationSid"].startswith("AP") and voice.data["params"]["Called"] == ""
    call = result.call
    assert (call["direction"], call["to"], call["from"]) == ("outbound-dial", "+14155550142", LINE)
    assert call["status"] == "completed" and call["answeredAt"]
    assert call["agent"] == result.agents["bob"]["id"], "after the cold transfer the call is Bob's"
    assert rest_requests(result)[0].startswith("Participants.create +14155550142 into 'call-")
    assert [row["event"] for row in logs(result, "hold")] == ["hold"]
    assert [row["event"] for row in logs(result, "resume")] == ["resume"]
    assert "Cold transfer #1: agent alice passed the call to agent bob" in [r["message"] for r in result.logs]
    assert said_on_timeline(result, "customer", "is talking with bob")
    assert_agents(result, alice="wrap_up", bob="wrap_up")


def test_a_premium_number_is_refused_with_a_message_and_a_timeline_line(e2e_stack):
    result = e2e_stack.play("dial_refused_premium.yaml")

    assert_clean(result)
    assert heard(result, "Call refused. +19005550142 is a premium-rate number (+1900): it cannot be dialled.", "alice")
    assert result.call["stage"] == "rejected" and result.call["agent"] is None
    assert [row["message"] for row in result.logs] == [
        "Dial refused for agent Alice Agent: +19005550142 is a premium-rate number (+1900): it cannot be dialled."
    ]
    assert rest_requests(result) == [], "nobody is dialled: no request to Twilio"
    assert_agents(result, alice="available")


def test_the_console_check_refuses_a_premium_number_before_any_call(e2e_stack):
    scenario = e2e_stack.load("dial_refused_premium.yaml")
    checked = e2e_stack.play(replace(scenario, dial=replace(scenario.dial, check_first=True)))

    assert checked.call is None and not checked.errors
    assert said_on_timeline(checked, "alice", "console: dial refused: +19005550142 is a premium-rate number")
    assert not [entry for entry in checked.entries if entry.who == "alice" and "softphone calls" in entry.text]


def test_a_callback_answered_on_the_first_try(e2e_stack):
    result = e2e_stack.play("callback_first_try.yaml")

    assert_clean(result)
    assert heard(result, "To be called back, press 1.")
    assert heard(result, "We will call you back at this number when it is your turn.")
    assert result.call["stage"] == "message"
    [callback] = result.callbacks
    assert (callback["state"], callback["attempts"]) == ("completed", 1)
    requests = rest_requests(result)
    ring, dial = [text for text in requests if text.startswith("Participants.create")]
    assert ring.startswith("Participants.create client:alice into 'callback-")
    assert dial.startswith("Participants.create +15005550006 into 'callback-")
    assert said_on_timeline(result, "customer", "is talking with alice")
    assert said_on_timeline(result, "scheduler", "manage.py run_due_callbacks: 1 agent(s) rung")


def test_a_callback_that_needs_a_second_attempt_waits_the_retry_delay(e2e_stack):
    result = e2e_stack.play("callback_second_attempt.yaml")

    assert_clean(result)
    [callback] = result.callbacks
    assert (callback["state"], callback["attempts"]) == ("completed", 2)
    runs = [entry.text for entry in result.entries if entry.who == "scheduler"]
    assert [run.split(": ")[1] for run in runs] == [
        "1 agent(s) rung for due callbacks.",
        "0 agent(s) rung for due callbacks.",  # 6 s later: the 10 s retry delay is not over
        "1 agent(s) rung for due callbacks.",
    ]
    dials = [text for text in rest_requests(result) if text.startswith("Participants.create +15005550007")]
    assert len(dials) == 2, "the customer was dialled once per attempt"
    messages = [row["message"] for row in result.logs]
    assert any("Attempt 1: the customer did not answer (no-answer); trying again after 10 s." in m for m in messages)
    assert "The customer answered attempt 2." in messages
    assert said_on_timeline(result, "customer", "is talking with alice")


def test_a_customer_dialled_on_a_recorded_line_hears_the_consent_then_is_recorded(e2e_stack):
    result = e2e_stack.play("click_to_dial_recorded.yaml")

    assert_clean(result)
    customer_heard = result.heard("customer")
    assert customer_heard[0].startswith('"This call may be recorded for quality and training purposes."')
    requests = rest_requests(result)
    announce = next(i for i, text in enumerate(requests) if text.startswith("Participants.update customer"))
    record = next(i for i, text in enumerate(requests) if text.startswith("Recordings.create on customer's call"))
    assert announce < record, "told before the recording starts"
    assert result.call["status"] == "completed" and result.call["answeredAt"]
    assert "The customer is told the call may be recorded" in " ".join(r["message"] for r in logs(result, "recording"))


def test_the_agent_hanging_up_before_the_customer_answers_cancels_the_customer(e2e_stack):
    result = e2e_stack.play("click_to_dial_agent_hangs_up.yaml")

    assert_clean(result)
    assert said_on_timeline(result, "customer", "stops ringing (api)")
    assert not said_on_timeline(result, "customer", "answers")
    assert result.call["status"] == "canceled" and not result.call["answeredAt"]
    assert "The agent hung up before the customer answered: the customer's call is cancelled." in [
        row["message"] for row in result.logs
    ]
    assert_agents(result, alice="available")


def test_a_callbacks_agent_hanging_up_while_the_customer_rings_cancels_them_and_retries(e2e_stack):
    result = e2e_stack.play("callback_agent_hangs_up.yaml")

    assert_clean(result)
    assert said_on_timeline(result, "customer", "stops ringing (api)")
    [callback] = result.callbacks
    assert (callback["state"], callback["attempts"]) == ("completed", 2)
    messages = [row["message"] for row in result.logs]
    assert "Attempt 1: the agent hung up before the customer answered; trying again after 10 s." in messages
    assert "The customer answered attempt 2." in messages
    assert said_on_timeline(result, "customer", "is talking with alice")
