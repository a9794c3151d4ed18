"""Recording (issue 18): policy and consent, the four call actions, rows from Twilio's status callbacks (replayed and
out of order), the REST list, playback through our own endpoint, and retention. What reaches Twilio's API is proven
in tests/contract; here a fake gateway answers like Twilio and fails on demand."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.conftest import api_client_for
from tests.console_support import connected_call, install_fake_gateway
from tests.twilio.payloads import sid
from voiceconfig.models import Call, CallEvent, CallLog, Recording, RecordingPolicy, RecordingState
from voicetwilio import gateway

RECORDING_SID = sid("RE", 7)


@pytest.fixture
def fake_gateway(monkeypatch):
    fake = install_fake_gateway(monkeypatch)

    def start_call_recording(**kwargs):
        fake._record("start_call_recording", kwargs)
        return RECORDING_SID

    monkeypatch.setattr(gateway, "start_call_recording", start_call_recording)
    for name in ("set_call_recording_state", "delete_recording"):
        monkeypatch.setattr(gateway, name, getattr(fake, name))
    return fake


@pytest.fixture
def on_demand(config):
    config.recording_policy = RecordingPolicy.ON_DEMAND
    config.save()
    return config


@pytest.fixture
def call(agent, line):
    return connected_call(agent=agent, line=line)


def act(client, call, action):
    return client.post(f"/voicetwilio/calls/{call.pk}:{action}", {}, format="json")


def timeline(call):
    return [entry.message for entry in CallLog.objects.filter(call=call, event=CallEvent.RECORDING).order_by("id")]


# --- agent controls ------------------------------------------------------------------------------------------------


def test_the_agent_starts_pauses_resumes_and_stops_a_recording(agent_client, call, on_demand, fake_gateway):
    started = act(agent_client, call, "startrecording")
    assert started.status_code == 200, started.json()
    assert started.json()["changed"] is True
    assert started.json()["recording"]["recordingSid"] == RECORDING_SID
    assert started.json()["recording"]["state"] == "in-progress"
    [(name, sent)] = fake_gateway.sent
    assert name == "start_call_recording" and sent["call_sid"] == call.call_sid
    assert "/voicetwilio/recordingcallback?" in sent["status_callback_url"]

    assert act(agent_client, call, "pauserecording").json()["recording"]["state"] == "paused"
    row = Recording.objects.get()
    Recording.objects.filter(pk=row.pk).update(paused_at=timezone.now() - timedelta(seconds=12))
    resumed = act(agent_client, call, "resumerecording").json()["recording"]
    assert resumed["state"] == "in-progress" and resumed["pauseCount"] == 1 and resumed["pausedSeconds"] == 12
    assert act(agent_client, call, "stoprecording").json()["recording"]["state"] == "stopped"

    assert [kw["state"] for kw in fake_gateway.kwargs("set_call_recording_state")] == [
        "paused",
        "in-progress",
        "stopped",
    ]
    assert timeline(call) == ["Recording started", "Recording paused", "Recording resumed", "Recording stopped"]


def test_repeating_an_action_asks_twilio_nothing_and_answers_unchanged(agent_client, call, on_demand, fake_gateway):
    act(agent_client, call, "startrecording")
    assert act(agent_client, call, "startrecording").json()["changed"] is False
    act(agent_client, call, "pauserecording")
    assert act(agent_client, call, "pauserecording").json()["changed"] is False
    act(agent_client, call, "stoprecording")
    assert act(agent_client, call, "stoprecording").json()["changed"] is False
    assert fake_gateway.names() == ["start_call_recording", "set_call_recording_state", "set_call_recording_state"]
    assert Recording.objects.count() == 1


def test_nothing_to_pause_resume_or_stop_is_a_conflict(agent_client, call, on_demand, fake_gateway):
    for action in ("pauserecording", "resumerecording", "stoprecording"):
        response = act(agent_client, call, action)
        assert response.status_code == 409, action
        assert response.json()["error"] == "conflict"
    assert fake_gateway.sent == []


def test_a_line_whose_policy_is_off_cannot_be_recorded(agent_client, call, fake_gateway):
    response = act(agent_client, call, "startrecording")
    assert response.status_code == 409
    assert "recordingPolicy" in response.json()["message"]
    assert fake_gateway.sent == [] and not Recording.objects.exists()


def test_an_ended_call_cannot_be_recorded(agent_client, call, on_demand, fake_gateway):
    Call.objects.filter(pk=call.pk).update(status="completed")
    assert act(agent_client, call, "startrecording").status_code == 409
    assert fake_gateway.sent == []


def test_another_agent_cannot_touch_the_recording(make_agent, call, on_demand, fake_gateway):
    stranger = api_client_for(make_agent("mallory").user)
    assert act(stranger, call, "startrecording").status_code == 404
    assert fake_gateway.sent == []


def test_twilio_refusing_to_start_is_a_502_and_start_can_be_pressed_again(agent_client, call, on_demand, fake_gateway):
    fake_gateway.fail("start_call_recording")
    response = act(agent_client, call, "startrecording")
    assert response.status_code == 502 and response.json()["error"] == "twilio_error"
    assert Recording.objects.get().state == RecordingState.FAILED
    fake_gateway.failing.clear()
    assert act(agent_client, call, "startrecording").json()["recording"]["state"] == "in-progress"


def test_twilio_refusing_to_pause_leaves_the_recording_running(agent_client, call, on_demand, fake_gateway):
    act(agent_client, call, "startrecording")
    fake_gateway.fail("set_call_recording_state")
    assert act(agent_client, call, "pauserecording").status_code == 502
    assert Recording.objects.get().state == RecordingState.IN_PROGRESS


# --- consent and the always policy ---------------------------------------------------------------------------------


def test_the_caller_hears_the_consent_before_waiting_for_an_agent(twilio, line, on_demand, twilio_gateway):
    body = twilio.incoming().content.decode()
    assert "This call may be recorded" in body
    assert body.index("This call may be recorded") < body.index("<Conference")
    assert "record=" not in body  # recorded over REST once an agent answers, never by the conference


def test_consent_audio_plays_instead_of_text(twilio, line, on_demand, twilio_gateway):
    on_demand.recording_consent_audio_url = "https://example.com/consent.mp3"
    on_demand.save()
    body = twilio.incoming().content.decode()
    assert "<Play>https://example.com/consent.mp3</Play>" in body and "may be recorded" not in body


def test_no_consent_when_recording_is_off(twilio, line, twilio_gateway):
    assert "may be recorded" not in twilio.incoming().content.decode()


def test_an_always_line_starts_recording_when_the_agent_answers(twilio, agent, line, config, fake_gateway):
    config.recording_policy = RecordingPolicy.ALWAYS
    config.save()
    call = connected_call(agent=agent, line=line, answered_at=None, stage="queued")
    response = twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=agent, seq=1)
    assert response.status_code == 200
    assert fake_gateway.names() == ["start_call_recording"]
    twilio.leg(call.call_sid, call.agent_call_sid, "in-progress", agent=agent, seq=1)  # a replay starts nothing
    assert fake_gateway.names() == ["start_call_recording"]
    assert Recording.objects.get().state == RecordingState.IN_PROGRESS


# --- status callbacks ----------------------------------------------------------------------------------------------


def callback(twilio, call, status, **fields):
    values = {
        "RecordingSid": RECORDING_SID,
        "RecordingStatus": status,
        "RecordingSource": "StartCallRecordingAPI",
        "RecordingChannels": "2",
        "RecordingDuration": None,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{RECORDING_SID}",
        **fields,
    }
    return twilio.recording(call.call_sid, kind="call", **values)


def test_the_completed_callback_brings_duration_and_audio(agent_client, twilio, call, on_demand, fake_gateway):
    act(agent_client, call, "startrecording")
    assert callback(twilio, call, "completed", RecordingDuration="42").status_code == 200
    row = Recording.objects.get()
    assert (row.state, row.duration_seconds, row.channels) == ("completed", 42, 2)
    assert row.media_url.endswith(RECORDING_SID)


def test_callbacks_out_of_order_and_twice_end_completed(twilio, call, on_demand):
    # No start request of ours (its answer may still be on the way): the callbacks alone make the row.
    callback(twilio, call, "completed", RecordingDuration="30")
    callback(twilio, call, "in-progress")  # late
    callback(twilio, call, "completed", RecordingDuration="30")  # replayed
    row = Recording.objects.get()
    assert (row.state, row.duration_seconds) == ("completed", 30)
    assert CallLog.objects.filter(call=call, event=CallEvent.RECORDING).count() == 2  # one per distinct event


def test_a_callback_before_our_start_returns_fills_the_requested_row(twilio, call, on_demand):
    from voiceconfig import calls as call_services

    decision = call_services.recording_request_start(call_id=call.pk)
    callback(twilio, call, "in-progress")
    call_services.recording_record_started(recording_id=decision.recording.pk, recording_sid=RECORDING_SID)
    row = Recording.objects.get()
    assert (row.recording_sid, row.state) == (RECORDING_SID, "in-progress")


def test_an_unsigned_callback_changes_nothing(client, call):
    response = client.post("/voicetwilio/recordingcallback", {"CallSid": call.call_sid, "RecordingSid": RECORDING_SID})
    assert response.status_code == 403
    assert not Recording.objects.exists()


# --- REST and playback ---------------------------------------------------------------------------------------------


def completed(call, n=7, **fields):
    values = {"recording_sid": sid("RE", n), "state": RecordingState.COMPLETED, "duration_seconds": 42}
    return Recording.objects.create(call=call, media_url="https://api.twilio.com/secret", **{**values, **fields})


def test_staff_list_every_recording_and_agents_their_own(staff_client, agent_client, agent, other_agent, line):
    mine = completed(connected_call(agent=agent, line=line, n=1), n=1)
    theirs = completed(connected_call(agent=other_agent, line=line, n=2), n=2)
    assert {row["id"] for row in staff_client.get("/voiceconfig/recordings").json()["results"]} == {mine.pk, theirs.pk}
    [only] = agent_client.get("/voiceconfig/recordings").json()["results"]
    assert only["id"] == mine.pk
    assert only["mediaUrl"].endswith(f"/voicetwilio/recordings/{mine.pk}/media")
    assert "api.twilio.com" not in str(only)
    assert agent_client.get(f"/voiceconfig/recordings/{theirs.pk}").status_code == 404
    assert agent_client.delete(f"/voiceconfig/recordings/{mine.pk}").status_code == 403
    assert staff_client.delete(f"/voiceconfig/recordings/{mine.pk}").status_code == 405  # purge_recordings deletes
    assert Recording.objects.count() == 2


class AudioServer(BaseHTTPRequestHandler):
    """Twilio's media endpoint, serving 1000 known bytes with Range support; remembers what it was asked."""

    AUDIO = bytes(range(256)) * 3 + bytes(232)
    seen: list[dict] = []

    def do_GET(self):
        AudioServer.seen.append(
            {"path": self.path, "range": self.headers.get("Range"), "auth": self.headers["Authorization"]}
        )
        body, status = self.AUDIO, 200
        wanted = self.headers.get("Range")
        if wanted:
            start, end = wanted.removeprefix("bytes=").split("-")
            body, status = self.AUDIO[int(start) : int(end) + 1], 206
        self.send_response(status)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(self.AUDIO)}")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def audio_server(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), AudioServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 31 + "1"
    settings.TWILIO_AUTH_TOKEN = "secret-token"
    AudioServer.seen = []
    yield server
    server.shutdown()
    server.server_close()


def test_playback_streams_the_audio_with_range_and_never_the_twilio_url(staff_client, agent, line, audio_server):
    row = completed(connected_call(agent=agent, line=line))
    whole = staff_client.get(f"/voicetwilio/recordings/{row.pk}/media")
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/mpeg"
    assert b"".join(whole.streaming_content) == AudioServer.AUDIO

    part = staff_client.get(f"/voicetwilio/recordings/{row.pk}/media?download=1", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == "bytes 100-199/1000"
    assert part["Content-Disposition"].startswith("attachment")
    assert b"".join(part.streaming_content) == AudioServer.AUDIO[100:200]
    assert AudioServer.seen[1]["range"] == "bytes=100-199"
    assert AudioServer.seen[0]["path"].endswith(f"/Recordings/{row.recording_sid}.mp3")
    assert AudioServer.seen[0]["auth"].startswith("Basic ")
    assert all("secret" not in value for value in part.headers.values())


def test_playback_of_an_unfinished_recording_is_a_conflict(staff_client, agent, line):
    row = completed(connected_call(agent=agent, line=line), state=RecordingState.IN_PROGRESS)
    response = staff_client.get(f"/voicetwilio/recordings/{row.pk}/media")
    assert response.status_code == 409 and response.json()["error"] == "conflict"


def test_playback_when_twilio_is_down_is_a_502(staff_client, agent, line, settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 31 + "1", "x"
    row = completed(connected_call(agent=agent, line=line))
    response = staff_client.get(f"/voicetwilio/recordings/{row.pk}/media")
    assert response.status_code == 502 and response.json()["error"] == "twilio_error"


def test_an_agent_cannot_play_someone_elses_recording(agent_client, other_agent, line):
    row = completed(connected_call(agent=other_agent, line=line))
    assert agent_client.get(f"/voicetwilio/recordings/{row.pk}/media").status_code == 404


# --- retention -----------------------------------------------------------------------------------------------------


def test_purge_deletes_old_recordings_at_twilio_and_here_and_is_idempotent(agent, line, config, fake_gateway):
    config.recording_retention_days = 30
    config.save()
    call = connected_call(agent=agent, line=line)
    old, recent = completed(call, n=1), completed(call, n=2)
    Recording.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))

    call_command("purge_recordings")
    assert list(Recording.objects.all()) == [recent]
    assert fake_gateway.kwargs("delete_recording") == [{"recording_sid": old.recording_sid}]
    assert any("deleted" in message for message in timeline(call))

    call_command("purge_recordings")  # nothing left to do
    assert len(fake_gateway.kwargs("delete_recording")) == 1


def test_purge_keeps_a_row_twilio_would_not_delete(agent, line, config, fake_gateway):
    config.recording_retention_days = 1
    config.save()
    old = completed(connected_call(agent=agent, line=line))
    Recording.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    fake_gateway.fail("delete_recording", "Twilio is down")
    with pytest.raises(CommandError):
        call_command("purge_recordings")
    assert Recording.objects.filter(pk=old.pk).exists()
