"""The admin's call pages are a record for a manager: read in plain words, never rewritten (issues 11.6 and 12.8)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import call_sid, make_user
from voiceconfig.models import Call, CallEvent, CallLog, CallStage, CallStatus


@pytest.fixture
def superuser_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def manager_client(db) -> Client:
    """Staff who is not a superuser and was given the view permissions on calls and call logs."""
    user = make_user("manager")
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_call", "view_calllog"]))
    client = Client()
    client.force_login(user)
    return client


def call_url(call: Call, view: str = "change") -> str:
    return reverse(f"admin:voiceconfig_call_{view}", args=[call.pk])


def at(base, seconds: int):
    return base + timedelta(seconds=seconds)


@pytest.fixture
def answered_call(line, agent):
    """A real-looking finished call: rang, IVR, queued, offered to Alice, answered, held, ended, recorded."""
    start = timezone.now() - timedelta(minutes=10)
    call = Call.objects.create(
        call_sid=call_sid(1), from_number="+447700900123", to_number=line.phone_number, phone_line=line,
        agent=agent, status=CallStatus.COMPLETED, stage=CallStage.CONNECTED, started_at=start,
        queued_at=at(start, 8), answered_at=at(start, 20), ended_at=at(start, 140), wait_seconds=12,
        talk_seconds=120, hold_seconds=15, recording_url="https://api.twilio.com/rec/RE1.mp3", recording_duration=118,
        recording_sid="RE" + "1" * 32,
    )  # fmt: skip
    events = [
        (0, CallEvent.STATUS, "ringing", "", {"CallStatus": "ringing"}),
        (1, CallEvent.STATUS, "in-progress", "", {"CallStatus": "in-progress"}),
        (6, CallEvent.IVR_INPUT, "in-progress", "Chose 1: sales.", {"digits": "1"}),
        (8, CallEvent.ROUTING, "", "Offered to Alice.", {"agent": agent.pk}),
        (9, CallEvent.AGENT, "initiated", "", {"agent": agent.pk, "CallStatus": "initiated", "leg": "CA" + "9" * 32}),
        (20, CallEvent.AGENT, "in-progress", "", {"agent": agent.pk, "CallStatus": "in-progress"}),
        (21, CallEvent.CONFERENCE, "", "participant-join", {"CallSid": call.call_sid}),
        (60, CallEvent.HOLD, "", "Alice put the caller on hold.", {"agent": agent.pk}),
        (140, CallEvent.STATUS, "completed", "", {"CallStatus": "completed"}),
        (141, CallEvent.RECORDING, "completed", call.recording_url, {"RecordingDuration": "118"}),
    ]
    for offset, event, status, message, data in events:
        log = CallLog.objects.create(
            call=call, call_sid=call.call_sid, event=event, call_status=status, message=message, data=data
        )
        CallLog.objects.filter(pk=log.pk).update(created_at=at(start, offset))
    return call


def timeline_lines(html: str) -> list[str]:
    timeline = html[html.index('<ol class="voice-timeline">') :]
    timeline = timeline[: timeline.index("</ol>")]
    items = re.findall(r"<li[^>]*>(.*?)</li>", timeline, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip() for item in items]


def test_the_timeline_starts_with_the_call_coming_in_and_reads_in_plain_words(superuser_client, answered_call):
    lines = timeline_lines(superuser_client.get(call_url(answered_call)).content.decode())

    assert "Call came in from +447700900123 to Main (+14155550100)" in lines[0]
    titles = " | ".join(lines)
    for words in [
        "Our number is ringing",
        "Call answered",
        "Caller pressed 1 Chose 1: sales.",
        "Offered to Alice.",
        "Calling Alice",
        "Alice answered",
        "Caller joined the conference",
        "Alice put the caller on hold.",
        "Call ended",
        "Recording saved (1 min 58 s) Listen",
    ]:
        assert words in titles, words
    assert len(lines) == 11
    # Nothing an engineer wrote for an engineer: no key=value pairs, no raw Twilio statuses or event names.
    assert not re.search(r"\w=\w|CallStatus|participant-join|in-progress", titles)
    assert lines[-1].endswith("+2 min 21 s")


def test_the_call_page_is_a_record_view_with_durations_and_the_recording(superuser_client, answered_call):
    html = superuser_client.get(call_url(answered_call)).content.decode()

    inputs = re.findall(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"', html)
    assert set(inputs) <= {"csrfmiddlewaretoken"}  # the page's and the logout button's forms
    assert 'name="_save"' not in html
    assert "View call" in html
    for label in ["Wait:", "Talk:", "On hold:", "12 s", "2 min 00 s", "15 s"]:
        assert label in html, label
    # Played through our own endpoint: Twilio's media URL never reaches the browser.
    assert f'<audio controls preload="none" src="/voicetwilio/recordings/{"RE" + "1" * 32}/media">' in html
    assert '<audio controls preload="none" src="https://api.twilio.com' not in html


def test_no_one_adds_or_changes_a_call_and_only_a_superuser_deletes_one(
    superuser_client, manager_client, answered_call
):
    before = Call.objects.filter(pk=answered_call.pk).values().get()

    assert superuser_client.get(reverse("admin:voiceconfig_call_add")).status_code == 403
    assert manager_client.get(reverse("admin:voiceconfig_call_add")).status_code == 403
    rewritten = superuser_client.post(call_url(answered_call), {"status": "queued", "from_number": "+1"})
    assert rewritten.status_code == 403
    assert manager_client.get(call_url(answered_call)).status_code == 200
    assert manager_client.post(call_url(answered_call, "delete"), {"post": "yes"}).status_code == 403
    assert Call.objects.filter(pk=answered_call.pk).values().get() == before

    assert "Delete" in superuser_client.get(call_url(answered_call)).content.decode()
    deleted = superuser_client.post(call_url(answered_call, "delete"), {"post": "yes"})
    assert deleted.status_code == 302
    assert not Call.objects.filter(pk=answered_call.pk).exists()


def test_the_platforms_events_are_read_only_in_the_admin_too(superuser_client, manager_client, answered_call):
    log = answered_call.logs.first()
    url = reverse("admin:voiceconfig_calllog_change", args=[log.pk])

    assert superuser_client.get(reverse("admin:voiceconfig_calllog_add")).status_code == 403
    assert superuser_client.post(url, {"message": "rewritten", "event": "note"}).status_code == 403
    delete = reverse("admin:voiceconfig_calllog_delete", args=[log.pk])
    for client in (superuser_client, manager_client):
        assert client.post(delete, {"post": "yes"}).status_code == 403
    log.refresh_from_db()
    assert log.message == ""


def test_the_call_list_shows_time_caller_line_agent_status_wait_and_talk(manager_client, answered_call):
    html = manager_client.get(reverse("admin:voiceconfig_call_changelist")).content.decode()

    table = html[html.index('id="result_list"') :]
    headers = re.findall(r'<th scope="col"[^>]*>.*?<(?:a|span)[^>]*>([^<]+)</', table[: table.index("</thead>")], re.S)
    assert [header.strip() for header in headers] == ["Time", "Caller", "Line", "Agent", "Status", "Wait", "Talk"]
    row = html[html.index("<tbody>") : html.index("</tbody>")]
    for cell in ["+447700900123", ">Main<", "Alice", "Completed", "12 s", "2 min 00 s"]:
        assert cell in row, cell
    assert answered_call.call_sid not in row  # searchable, and on the call page, but not a column


def test_a_live_call_shows_wait_and_talk_counting_from_its_timestamps(manager_client, line, agent, other_agent):
    now = timezone.now()
    waiting = Call.objects.create(
        call_sid=call_sid(2), from_number="+447700900002", phone_line=line, status=CallStatus.IN_PROGRESS,
        stage=CallStage.QUEUED, started_at=now - timedelta(seconds=100), queued_at=now - timedelta(seconds=95),
    )  # fmt: skip
    talking = Call.objects.create(
        call_sid=call_sid(3), from_number="+447700900003", phone_line=line, agent=agent,
        status=CallStatus.IN_PROGRESS, stage=CallStage.CONNECTED, queued_at=now - timedelta(seconds=300),
        answered_at=now - timedelta(seconds=200), wait_seconds=100,
    )  # fmt: skip

    html = manager_client.get(reverse("admin:voiceconfig_call_changelist")).content.decode()

    # Stored wait/talk are 0 while the call is live; the list computes them from the timestamps instead.
    assert re.search(rf'data-live-since="{re.escape(waiting.queued_at.isoformat())}"[^>]*>1 min 3[5-7] s<', html)
    assert re.search(rf'data-live-since="{re.escape(talking.answered_at.isoformat())}"[^>]*>3 min 2[0-2] s<', html)
    assert '<span class="voice-call-live" title="Waiting for an agent">Waiting</span>' in html
    assert '<span class="voice-call-live" title="Talking to an agent">Talking</span>' in html
    assert "voice/live_durations.js" in html


def test_a_call_page_opens_for_a_call_with_no_events_and_no_line(superuser_client, db):
    call = Call.objects.create(call_sid=call_sid(4), from_number="", to_number="+14155550999")

    html = superuser_client.get(call_url(call)).content.decode()

    assert "Call came in from an unknown number to +14155550999" in timeline_lines(html)[0]
    assert "0 events recorded" in html


@pytest.mark.parametrize(
    ("status", "stage", "shown"),
    [
        (CallStatus.COMPLETED, CallStage.ABANDONED, ">Abandoned<"),
        (CallStatus.COMPLETED, CallStage.VOICEMAIL, ">Voicemail<"),
        (CallStatus.COMPLETED, CallStage.CONNECTED, ">Completed<"),
        (CallStatus.NO_ANSWER, CallStage.REJECTED, ">No answer<"),
        (CallStatus.FAILED, CallStage.NEW, ">Failed<"),
    ],
)
def test_the_list_says_how_an_ended_call_ended_in_one_word(manager_client, line, status, stage, shown):
    Call.objects.create(call_sid=call_sid(6), phone_line=line, status=status, stage=stage)

    html = manager_client.get(reverse("admin:voiceconfig_call_changelist")).content.decode()

    row = html[html.index("<tbody>") : html.index("</tbody>")]
    assert shown in row


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("call_sid", "Call SID"),
        ("ivr_attempts", "IVR attempts"),
        ("ivr_choice", "IVR choice"),
        ("recording_url", "Recording URL"),
        ("recording_sid", "Recording SID"),
        ("conference_sid", "Conference SID"),
    ],
)
def test_call_labels_spell_ivr_url_and_sid_in_capitals(superuser_client, answered_call, field, label):
    html = superuser_client.get(call_url(answered_call)).content.decode()

    assert f"<label>{label}:</label>" in html
