"""Whole calls, end to end: the app under gunicorn, the Twilio emulator, scripted callers and agents.

Each test plays one scenarios/ file and checks what a manager would look at afterwards: the call record, its
CallLog timeline and every agent's state, read back through the app's REST API; plus what the caller heard.
No test may leave an error on the timeline: a webhook answering non-2xx, a TwiML Twilio would refuse, a console
action refused, a callback the app failed on.
"""

import pytest

pytestmark = pytest.mark.e2e


def logs(result, event: str) -> list[dict]:
    return [row for row in result.logs if row["event"] == event]


def messages(result, event: str) -> list[str]:
    return [row["message"] for row in logs(result, event)]


def agent_id(result, username: str) -> int:
    return result.agents[username]["id"]


def rung(result) -> list[str]:
    """The agents routing rang, in order (from the app's routing log)."""
    return [row["data"]["identity"] for row in logs(result, "routing") if row["data"].get("identity")]


def heard(result, text: str, who: str = "caller") -> bool:
    return any(text in line for line in result.heard(who))


def said_on_timeline(result, who: str, text: str) -> bool:
    return any(entry.who == who and text in entry.text for entry in result.entries)


def assert_agents(result, **statuses: str) -> None:
    """Each named agent's state once the call is over, compared at once so a failure shows every agent."""
    assert {username: result.agent_status(username) for username in statuses} == statuses


def assert_clean(result) -> None:
    assert result.finished, "the call was still going when the scenario's time ran out"
    assert [entry.text for entry in result.errors] == []
    assert result.call is not None, "the app has no record of the call"


def test_an_answered_call_is_completed_with_its_agent_in_wrap_up(e2e_stack):
    result = e2e_stack.play("answered.yaml")

    assert_clean(result)
    assert result.call["status"] == "completed"
    assert result.call["agent"] == agent_id(result, "alice")
    assert result.call["answeredAt"] and result.call["endedAt"]
    assert result.call["recordingSid"].startswith("RE"), "the line records calls: the conference recording is kept"
    assert result.call["recordingDuration"] == 30
    assert result.call["voicemail"] is False
    assert rung(result) == ["alice"]
    assert [row["callStatus"] for row in logs(result, "agent")][:3] == ["initiated", "ringing", "in-progress"]
    assert logs(result, "status")[-1]["callStatus"] == "completed"
    assert heard(result, "Thank you for calling the scenario line.")
    assert heard(result, "MARKOVICHAMP-Borghestral.mp3"), "the caller hears the line's hold music while waiting"
    assert said_on_timeline(result, "caller", "is talking with alice")
    assert_agents(result, alice="wrap_up", bob="offline")


def test_the_ivr_routes_a_key_press(e2e_stack):
    result = e2e_stack.play("ivr_digit.yaml")

    assert_clean(result)
    assert result.call["ivrChoice"] == "2"
    assert messages(result, "ivr_input") == ["Chose 2: support."]
    assert heard(result, "For sales press 1 or say sales.")
    assert result.call["status"] == "completed"
    assert result.call["agent"] == agent_id(result, "alice")
    assert_agents(result, alice="wrap_up", bob="offline")


def test_the_ivr_asks_again_after_silence_and_routes_a_spoken_choice(e2e_stack):
    result = e2e_stack.play("ivr_speech.yaml")

    assert_clean(result)
    assert messages(result, "ivr_input") == ["No valid choice.", "Chose 2: support."]
    # Twilio's recogniser capitalises and punctuates what it heard; the app still finds the keyword.
    assert logs(result, "ivr_input")[1]["data"]["speech"] == "I need some help please."
    assert heard(result, "Sorry, I did not get that.")
    assert result.call["ivrChoice"] == "2"
    assert result.call["agent"] == agent_id(result, "alice")
    assert result.call["status"] == "completed"
    assert_agents(result, alice="wrap_up", bob="offline")


def test_an_agent_who_does_not_answer_is_passed_over_for_the_next(e2e_stack):
    scenario = e2e_stack.load("no_answer_next_agent.yaml")
    # The scenario's "alice" is whoever routing rings first (the longest idle), whatever earlier tests did.
    first = e2e_stack.first_in_line(["alice", "bob"])
    second = "bob" if first == "alice" else "alice"
    if first == "bob":
        scenario = e2e_stack.swap_agents(scenario, "alice", "bob")

    result = e2e_stack.play(scenario)

    assert_clean(result)
    assert rung(result) == [first, second]
    assert said_on_timeline(result, first, "does not answer within 10 s")
    assert "no-answer" in [row["callStatus"] for row in logs(result, "agent")]
    assert result.call["agent"] == agent_id(result, second)
    assert result.call["status"] == "completed"
    assert result.agent_status(first) == "available", "a missed ring puts the agent back in line, not in a call"
    assert result.agent_status(second) == "wrap_up"


def test_with_nobody_available_the_caller_leaves_a_voicemail(e2e_stack):
    result = e2e_stack.play("voicemail.yaml")

    assert_clean(result)
    assert heard(result, "Please leave a message after the tone.")
    assert heard(result, "a beep")
    assert result.call["voicemail"] is True
    assert result.call["recordingSid"].startswith("RE")
    assert result.call["recordingDuration"] == 8
    # Played through our own endpoint: Twilio's media URL never reaches the browser.
    assert result.call["recordingUrl"].endswith(f"/voicetwilio/recordings/{result.call['recordingSid']}/media")
    assert result.call["agent"] is None
    assert result.call["status"] == "completed"
    assert rung(result) == []
    assert logs(result, "voicemail"), "the voicemail is on the call's timeline"
    assert_agents(result, alice="offline", bob="offline")


def test_after_hours_the_caller_hears_the_closed_message_and_nobody_is_rung(e2e_stack):
    result = e2e_stack.play("after_hours.yaml")

    assert_clean(result)
    assert heard(result, "We are closed today. Please call again tomorrow.")
    assert not heard(result, "Thank you for calling."), "no greeting when closed"
    assert any(message.startswith("Closed") for message in messages(result, "routing"))
    assert rung(result) == []
    assert not any(entry.who == "api" for entry in result.entries), "the app asked Twilio for nothing"
    assert result.call["status"] == "completed"
    assert result.call["agent"] is None
    assert_agents(result, alice="available", bob="offline")


def test_an_agent_puts_the_caller_on_hold_and_back(e2e_stack):
    result = e2e_stack.play("hold_resume.yaml")

    assert_clean(result)
    events = [row["event"] for row in result.logs]
    assert events.index("hold") < events.index("resume")
    assert "participant-hold" in messages(result, "conference") or any(
        row["data"].get("StatusCallbackEvent") == "participant-hold" for row in logs(result, "conference")
    )
    assert said_on_timeline(result, "caller", "hears hold music http://com.twilio.sounds.music.s3.amazonaws.com/")
    assert said_on_timeline(result, "alice", "is talking with caller (on hold)")
    assert result.call["onHold"] is False
    assert result.call["agent"] == agent_id(result, "alice")
    assert result.call["status"] == "completed"
    assert_agents(result, alice="wrap_up", bob="offline")


def test_a_cold_transfer_hands_the_caller_to_another_agent(e2e_stack):
    result = e2e_stack.play("cold_transfer.yaml")

    assert_clean(result)
    [transfer] = logs(result, "transfer")
    assert transfer["data"]["mode"] == "cold"
    assert transfer["data"]["toAgent"] == agent_id(result, "bob")
    assert said_on_timeline(result, "caller", "is talking with bob")
    assert not said_on_timeline(result, "caller", "is talking with alice, bob"), "cold: Alice leaves at once"
    assert result.call["agent"] == agent_id(result, "bob")
    assert result.call["status"] == "completed"
    assert_agents(result, alice="wrap_up", bob="wrap_up")


def test_a_warm_transfer_introduces_the_caller_then_the_first_agent_leaves(e2e_stack):
    result = e2e_stack.play("warm_transfer.yaml")

    assert_clean(result)
    [transfer] = logs(result, "transfer")
    assert transfer["data"]["mode"] == "warm"
    assert said_on_timeline(result, "caller", "is talking with alice, bob"), "warm: all three talk first"
    assert said_on_timeline(result, "caller", "is talking with bob")
    assert result.call["agent"] == agent_id(result, "bob")
    assert result.call["status"] == "completed"
    assert result.agent_status("bob") == "wrap_up"
    assert result.agent_status("alice") == "wrap_up", "Alice hung up after introducing the caller"


def test_a_caller_who_hangs_up_while_queued_frees_the_ringing_agent(e2e_stack):
    result = e2e_stack.play("hangup_while_queued.yaml")

    assert_clean(result)
    assert said_on_timeline(result, "caller", "hangs up")
    assert len(result.webhooks("/voicetwilio/queuewait")) == 3, "the wait URL is fetched at 0, 10 and 20 s"
    assert rung(result) == ["alice"], "each fetch retries routing, but Alice is already ringing"
    assert said_on_timeline(result, "alice", "call "), "alice's softphone leg existed"
    alice_leg = [e for e in result.entries if e.who == "alice" and "-> canceled" in e.text]
    assert alice_leg, "the app cancels the agent's ringing leg when the caller leaves"
    assert result.call["status"] == "completed"
    assert result.call["agent"] is None
    assert result.call["answeredAt"] is None
    assert_agents(result, alice="available", bob="offline")


def test_a_cold_transfer_to_an_outside_number_leaves_the_caller_with_that_number(e2e_stack):
    result = e2e_stack.play("transfer_to_number.yaml")

    assert_clean(result)
    [transfer] = logs(result, "transfer")
    assert (transfer["data"]["type"], transfer["data"]["to"]) == ("phonenumber", "+14155550188")
    assert said_on_timeline(result, "caller", "is talking with partner")
    assert result.call["agent"] is None, "the call has no agent of ours any more"
    assert result.call["status"] == "completed"
    assert heard(result, "Thank you for calling. Goodbye."), "the caller is told goodbye when the partner hangs up"
    assert_agents(result, alice="wrap_up", bob="offline")


def test_after_hours_a_forward_nobody_answers_ends_with_the_unavailable_message(e2e_stack):
    result = e2e_stack.play("after_hours_forward.yaml")

    assert_clean(result)
    assert "Forwarded to +14155550199." in messages(result, "routing")
    assert "Forwarded call ended: no-answer." in messages(result, "routing")
    assert heard(result, "ringing")
    assert heard(result, "Sorry, nobody is on call right now. Goodbye.")
    assert rung(result) == []
    assert result.call["agent"] is None
    assert result.call["status"] == "completed"
    assert_agents(result, alice="available", bob="offline")
