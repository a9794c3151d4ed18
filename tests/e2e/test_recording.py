"""Recording and supervision end to end (issue 18): the app under gunicorn against the Twilio emulator.

Consent then record, a pause left out of the recording's duration, and a supervisor who listens, whispers (heard by
the agent only, as Twilio's coaching works) and barges in; every step read back through the app's REST API.
"""

import pytest

from tests.e2e.test_calls import assert_clean, heard, logs, messages, said_on_timeline

pytestmark = pytest.mark.e2e


def test_consent_then_record_with_a_pause_left_out_of_the_duration(e2e_stack):
    result = e2e_stack.play("recording_pause.yaml")

    assert_clean(result)
    assert heard(result, "This call may be recorded for quality and training purposes.")
    actions = {"Recording started", "Recording paused", "Recording resumed", "Recording stopped"}
    assert [text for text in messages(result, "recording") if text in actions] == [
        "Recording started",
        "Recording paused",
        "Recording resumed",
        "Recording stopped",
    ]
    # Started 5 s after the answer, paused 10 s later for 15 s, stopped 20 s after the resume: 30 s of audio.
    assert result.call["recordingDuration"] == 30
    completed = [row for row in logs(result, "recording") if row["callStatus"] == "completed"]
    assert completed and completed[0]["data"]["RecordingSource"] == "StartCallRecordingAPI"
    assert completed[0]["data"]["RecordingChannels"] == "2"


def test_a_supervisor_listens_whispers_and_barges(e2e_stack):
    result = e2e_stack.play("supervise.yaml")

    assert_clean(result)
    steps = messages(result, "supervision")
    assert steps[0] == "Supervisor bob joining to listen"
    assert "Supervisor bob is listening" in steps
    assert "Supervisor bob is whispering to the agent (was listen)" in steps
    assert "Supervisor bob has barged into the call (was whisper)" in steps
    assert steps[-1] == "Supervisor bob stopped supervising (bob)"
    assert said_on_timeline(result, "bob", "bob is heard by nobody (muted)")
    assert said_on_timeline(result, "bob", "bob is heard by alice only")
    assert said_on_timeline(result, "bob", "bob is heard by everyone on the call")
    assert result.call["status"] == "completed"
