"""Calls are read-only records of what Twilio told us; staff annotate them with notes in the call logs."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.conftest import api_client_for, call_sid, make_user
from voiceconfig.models import Call, CallLog, CallStatus

CALLS = "/voiceconfig/calls"
LOGS = "/voiceconfig/calllogs"


@pytest.fixture
def calls(line, agent, other_agent):
    first = Call.objects.create(
        call_sid=call_sid(1), from_number="+447700900001", to_number=line.phone_number, phone_line=line,
        agent=agent, status=CallStatus.COMPLETED, talk_seconds=30, wait_seconds=5,
    )  # fmt: skip
    second = Call.objects.create(
        call_sid=call_sid(2), from_number="+447700900002", to_number=line.phone_number, phone_line=line,
        agent=other_agent, status=CallStatus.IN_PROGRESS, talk_seconds=10, wait_seconds=50,
    )  # fmt: skip
    third = Call.objects.create(
        call_sid=call_sid(3), from_number="client:alice", to_number="+14155550199", direction="outbound-dial",
        status=CallStatus.NO_ANSWER, voicemail=True,
    )  # fmt: skip
    Call.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2))
    return first, second, third


def sids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["callSid"] for row in response.json()["results"]]


def backfill_body(line, agent, **changes) -> dict:
    body = {"callSid": call_sid(10), "from": "+447700900123", "to": "+14155550100", "phoneLine": line.pk,
            "agent": agent.pk, "status": "completed", "direction": "inbound", "startedAt": "2026-03-01T10:00:00Z",
            "answeredAt": "2026-03-01T10:00:30Z", "endedAt": "2026-03-01T10:05:30Z"}  # fmt: skip
    return body | changes


def test_staff_backfill_a_finished_call_twilio_handled_while_we_could_not_record_it(staff_client, line, agent):
    response = staff_client.post(CALLS, backfill_body(line, agent), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["callSid"], body["status"], body["stage"], body["agent"]) == (call_sid(10), "completed", "connected",
                                                                              agent.pk)  # fmt: skip
    assert (body["waitSeconds"], body["talkSeconds"]) == (30, 300)
    note = CallLog.objects.get(call_sid=call_sid(10))
    assert note.message == "Recorded by boss after the fact (backfill from Twilio's call log)."
    # A finished call blocks nobody: the agent is as free as before.
    agent.refresh_from_db()
    assert not Call.objects.active().filter(agent=agent).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "in-progress"}, "status"),
        ({"status": "queued"}, "status"),
        ({"callSid": "CA123"}, "callSid"),
        ({"endedAt": "2026-03-01T09:00:00Z"}, "endedAt"),
        ({"answeredAt": "2026-03-01T11:00:00Z"}, "answeredAt"),
        ({"from": None}, "from"),
        ({"to": ""}, "to"),
    ],
)
def test_a_backfill_is_a_finished_call_or_a_400_naming_the_field(staff_client, line, agent, changes, field):
    response = staff_client.post(CALLS, backfill_body(line, agent, **changes), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["details"]
    # A fabricated live call would have blocked the agent (one call at a time) and shown in the overview.
    assert not Call.objects.exists()


def test_a_backfill_without_a_direction_is_an_inbound_call(staff_client, line, agent):
    body = backfill_body(line, agent)
    del body["direction"]

    response = staff_client.post(CALLS, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["direction"] == "inbound"


def test_a_backfill_of_a_call_we_already_have_is_refused(staff_client, calls, line, agent):
    response = staff_client.post(CALLS, backfill_body(line, agent, callSid=calls[0].call_sid), format="json")

    assert response.status_code == 400
    assert "callSid" in response.json()["details"]


def test_agents_cannot_backfill_calls(agent_client, line, agent):
    response = agent_client.post(CALLS, backfill_body(line, agent), format="json")

    assert response.status_code == 403
    assert not Call.objects.exists()


def test_a_call_shows_the_spec_names_from_and_to(staff_client, calls):
    body = staff_client.get(f"{CALLS}/{calls[0].pk}").json()

    assert body["from"] == "+447700900001" and body["to"] == calls[0].to_number
    assert "fromNumber" not in body and "toNumber" not in body


def test_staff_cannot_move_a_completed_call_back_to_queued(staff_client, calls):
    first = calls[0]

    response = staff_client.patch(f"{CALLS}/{first.pk}", {"status": "queued"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["message"].startswith("status: Read-only")
    assert list(body["details"]) == ["status"]
    first.refresh_from_db()
    assert first.status == CallStatus.COMPLETED


def snapshot(call: Call) -> dict:
    call.refresh_from_db()
    return {field.attname: getattr(call, field.attname) for field in Call._meta.concrete_fields}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "in-progress"),
        ("stage", "queued"),
        ("callSid", call_sid(77)),
        ("conferenceSid", "CF" + "1" * 32),
        ("agentCallSid", call_sid(78)),
        ("recordingSid", "RE" + "1" * 32),
        ("from", "+447700900999"),
        ("to", "+14155550999"),
        ("direction", "outbound-api"),
        ("agent", None),
        ("phoneLine", None),
        ("startedAt", "2026-01-01T00:00:00Z"),
        ("queuedAt", "2026-01-01T00:00:00Z"),
        ("answeredAt", "2026-01-02T00:00:00Z"),
        ("endedAt", "2026-01-01T00:00:00Z"),
        ("waitSeconds", 0),
        ("talkSeconds", 9999),
        ("holdSeconds", 1),
        ("onHold", True),
        ("recordingUrl", "https://example.com/fake.mp3"),
        ("recordingDuration", 5),
        ("voicemail", True),
        ("createdAt", "2026-01-01T00:00:00Z"),
    ],
)
def test_every_field_of_a_call_is_read_only_and_a_write_is_a_400_naming_it(staff_client, calls, field, value):
    first = calls[0]
    before = snapshot(first)

    response = staff_client.patch(f"{CALLS}/{first.pk}", {field: value}, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()["details"]) == [field]
    assert snapshot(first) == before


def test_a_patch_or_put_names_every_field_it_tried_to_rewrite(staff_client, calls, line):
    third = calls[2]
    before = snapshot(third)
    body = {"id": third.pk, "callSid": third.call_sid, "from": "+447700900999", "status": "completed",
            "phoneLine": line.pk}  # fmt: skip

    patched = staff_client.patch(f"{CALLS}/{third.pk}", body, format="json")
    put = staff_client.put(f"{CALLS}/{third.pk}", body, format="json")

    for answer in (patched, put):
        assert answer.status_code == 400
        # The callSid sent back unchanged is no rewrite; the three fields that differ are named.
        assert set(answer.json()["details"]) == {"from", "status", "phoneLine"}
    assert snapshot(third) == before


def test_a_put_of_the_call_as_read_changes_nothing(staff_client, calls):
    url = f"{CALLS}/{calls[0].pk}"
    before = snapshot(calls[0])
    read = staff_client.get(url).json()

    response = staff_client.put(url, read, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == read
    assert snapshot(calls[0]) == before


def test_an_empty_patch_changes_nothing_and_answers_the_call(staff_client, calls):
    before = snapshot(calls[1])

    response = staff_client.patch(f"{CALLS}/{calls[1].pk}", {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "in-progress"
    assert snapshot(calls[1]) == before


def test_the_database_still_refuses_a_second_live_call_for_one_agent(calls, other_agent):
    # Decision 6 holds below the API too: the constraint, not a check in Python, is the last word.
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.create(call_sid=call_sid(12), agent=other_agent, status=CallStatus.IN_PROGRESS)

    Call.objects.create(call_sid=call_sid(13), agent=other_agent, status=CallStatus.COMPLETED)


@pytest.fixture
def manager(db):
    """Staff who is not a superuser: a contact-centre manager."""
    user = make_user("manager")
    user.is_staff = True
    user.save()
    return user


def test_only_a_superuser_deletes_a_call_and_its_timeline(staff_client, calls, manager):
    third = calls[2]
    CallLog.objects.create(call=third, call_sid=third.call_sid, event="status", call_status="no-answer")

    refused = api_client_for(manager).delete(f"{CALLS}/{third.pk}")
    deleted = staff_client.delete(f"{CALLS}/{third.pk}")

    assert refused.status_code == 403
    assert refused.json()["error"] == "permission_denied"
    assert "superuser" in refused.json()["message"]
    assert deleted.status_code == 204
    assert not Call.objects.filter(pk=third.pk).exists()
    assert not CallLog.objects.filter(call_sid=third.call_sid).exists()


def test_a_manager_who_is_not_a_superuser_reads_every_call(calls, manager):
    assert sids(api_client_for(manager).get(CALLS)) == [call_sid(3), call_sid(2), call_sid(1)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"callSid": call_sid(2)}, [2]),
        ({"from": "+447700900001"}, [1]),
        ({"from": "client:alice"}, [3]),
        ({"to": "+14155550199"}, [3]),
        ({"direction": "outbound-dial"}, [3]),
        ({"status": "completed"}, [1]),
        ({"status": ["completed", "no-answer"]}, [3, 1]),
        ({"voicemail": "true"}, [3]),
        ({"search": "900002"}, [2]),
        ({"ordering": "waitSeconds"}, [3, 1, 2]),
        ({"ordering": "-talkSeconds"}, [1, 2, 3]),
        ({"ordering": "createdAt"}, [1, 2, 3]),
    ],
)
def test_list_filters_searches_and_orders(staff_client, calls, query, expected):
    assert sids(staff_client.get(CALLS, query)) == [call_sid(n) for n in expected]


def test_list_is_newest_first_and_filters_by_line_agent_and_time(staff_client, calls, line, agent):
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()

    assert sids(staff_client.get(CALLS)) == [call_sid(3), call_sid(2), call_sid(1)]
    assert sids(staff_client.get(CALLS, {"phoneLine": line.pk})) == [call_sid(2), call_sid(1)]
    assert sids(staff_client.get(CALLS, {"agent": agent.pk})) == [call_sid(1)]
    assert sids(staff_client.get(CALLS, {"createdAfter": yesterday})) == [call_sid(3), call_sid(2)]
    assert sids(staff_client.get(CALLS, {"createdBefore": yesterday})) == [call_sid(1)]


# --- call logs ----------------------------------------------------------------------------------


@pytest.fixture
def logs(calls):
    first, second, _ = calls
    rows = [
        CallLog.objects.create(call=first, call_sid=first.call_sid, event="status", call_status="ringing"),
        CallLog.objects.create(call=first, call_sid=first.call_sid, event="ivr_input", message="pressed 2"),
        CallLog.objects.create(call=second, call_sid=second.call_sid, event="hold", message="agent held"),
    ]
    CallLog.objects.filter(pk=rows[0].pk).update(created_at=timezone.now() - timedelta(days=2))
    return rows


def messages(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["message"] for row in response.json()["results"]]


def test_creating_a_log_copies_the_call_sid_and_keeps_the_payload_exactly(staff_client, calls):
    first = calls[0]
    payload = {"CallSid": first.call_sid, "SequenceNumber": "3", "snake_key": 1, "nested": {"AnsweredBy": "human"}}

    response = staff_client.post(
        LOGS,
        {"call": first.pk, "event": "note", "message": "Customer asked for a refund", "data": payload},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["callSid"] == first.call_sid
    assert body["data"] == payload  # neither camelized nor underscoreized
    log = CallLog.objects.get(pk=body["id"])
    assert log.data == payload
    assert log.call_sid == first.call_sid
    assert body["createdAt"]


def test_a_log_needs_a_known_call_and_a_known_event(staff_client, calls):
    no_call = staff_client.post(LOGS, {"call": 987654, "event": "note"}, format="json")
    bad_event = staff_client.post(LOGS, {"call": calls[0].pk, "event": "party"}, format="json")

    assert no_call.status_code == 400 and "call" in no_call.json()["details"]
    assert bad_event.status_code == 400 and "event" in bad_event.json()["details"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"event": "hold"}, ["agent held"]),
        ({"callSid": call_sid(2)}, ["agent held"]),
        ({"search": "pressed"}, ["pressed 2"]),
        ({"ordering": "-createdAt"}, ["agent held", "pressed 2", ""]),
    ],
)
def test_log_list_filters_searches_and_orders(staff_client, logs, query, expected):
    assert messages(staff_client.get(LOGS, query)) == expected


def test_log_list_is_a_timeline_and_filters_by_call_and_time(staff_client, logs, calls):
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()

    assert messages(staff_client.get(LOGS)) == ["", "pressed 2", "agent held"]
    assert messages(staff_client.get(LOGS, {"call": calls[0].pk})) == ["", "pressed 2"]
    assert messages(staff_client.get(LOGS, {"createdAfter": yesterday})) == ["pressed 2", "agent held"]
    assert messages(staff_client.get(LOGS, {"createdBefore": yesterday})) == [""]


def test_staff_add_a_note_without_naming_the_event(staff_client, calls):
    response = staff_client.post(LOGS, {"call": calls[0].pk, "message": "Refund promised"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["event"] == "note"
    assert CallLog.objects.get(pk=response.json()["id"]).message == "Refund promised"


@pytest.mark.parametrize("event", ["status", "ivr_input", "routing", "hold", "transfer", "recording"])
def test_staff_cannot_invent_an_event_the_platform_records(staff_client, calls, event):
    response = staff_client.post(LOGS, {"call": calls[0].pk, "event": event, "message": "fake"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["event"]
    assert not CallLog.objects.filter(message="fake").exists()


@pytest.mark.parametrize(("field", "value"), [("callStatus", "completed"), ("sequenceNumber", 7)])
def test_a_note_cannot_carry_twilios_status_or_sequence(staff_client, calls, field, value):
    response = staff_client.post(LOGS, {"call": calls[0].pk, field: value}, format="json")

    assert response.status_code == 400
    assert list(response.json()["details"]) == [field]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_twilios_events_are_never_edited_or_deleted(staff_client, logs, calls, method):
    log = logs[0]  # a status change recorded from Twilio
    body = {"call": calls[0].pk, "event": "note", "message": "rewritten"} if method != "delete" else None

    response = getattr(staff_client, method)(f"{LOGS}/{log.pk}", body, format="json")

    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert "add a note instead" in response.json()["message"]
    log.refresh_from_db()
    assert (log.event, log.message, log.call_status) == ("status", "", "ringing")


def test_staff_edit_and_delete_their_notes(staff_client, calls):
    note = CallLog.objects.create(call=calls[0], call_sid=calls[0].call_sid, event="note", message="first")

    shown = staff_client.get(f"{LOGS}/{note.pk}").json()
    put = staff_client.put(f"{LOGS}/{note.pk}", {"call": calls[0].pk, "message": "second"}, format="json")
    patched = staff_client.patch(f"{LOGS}/{note.pk}", {"message": "third"}, format="json")
    deleted = staff_client.delete(f"{LOGS}/{note.pk}")

    assert shown["event"] == "note"
    assert put.status_code == 200 and put.json()["message"] == "second"
    assert patched.status_code == 200 and patched.json()["message"] == "third"
    assert deleted.status_code == 204
    assert not CallLog.objects.filter(pk=note.pk).exists()


def test_a_note_stays_on_its_call(staff_client, calls):
    note = CallLog.objects.create(call=calls[0], call_sid=calls[0].call_sid, event="note", message="mine")

    moved = staff_client.patch(f"{LOGS}/{note.pk}", {"call": calls[1].pk}, format="json")
    made_status = staff_client.patch(f"{LOGS}/{note.pk}", {"event": "status"}, format="json")

    assert moved.status_code == 400 and list(moved.json()["details"]) == ["call"]
    assert made_status.status_code == 400 and list(made_status.json()["details"]) == ["event"]
    note.refresh_from_db()
    assert (note.call_id, note.call_sid, note.event) == (calls[0].pk, calls[0].call_sid, "note")


def test_calls_show_their_routing_stage_and_filter_by_it(staff_client, calls):
    Call.objects.filter(pk=calls[1].pk).update(stage="queued")

    waiting = staff_client.get(CALLS, {"stage": "queued"})

    assert sids(waiting) == [call_sid(2)]
    assert waiting.json()["results"][0]["stage"] == "queued"
