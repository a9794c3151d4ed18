"""Staff keep full CRUD on calls and call logs (decision 14): the spec's `from`/`to`, one live call per agent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import call_sid
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


def test_creating_a_call_uses_the_spec_names_from_and_to(staff_client, line, agent):
    response = staff_client.post(
        CALLS,
        {"callSid": call_sid(10), "from": "+447700900123", "to": "+14155550100", "phoneLine": line.pk,
         "agent": agent.pk, "status": "ringing", "direction": "inbound"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["from"] == "+447700900123" and body["to"] == "+14155550100"
    assert "fromNumber" not in body and "toNumber" not in body
    call = Call.objects.get(call_sid=call_sid(10))
    assert (call.from_number, call.to_number, call.agent, call.phone_line) == (
        "+447700900123", "+14155550100", agent, line
    )  # fmt: skip


@pytest.mark.parametrize(
    "sid", ["CA123", "CA" + "G" * 32, "XX" + "0" * 32, "CA" + "A" * 32, "CA" + "0" * 33, "", "ca" + "0" * 32]
)
def test_call_sids_must_be_ca_and_32_hex_digits(staff_client, db, sid):
    response = staff_client.post(CALLS, {"callSid": sid}, format="json")

    assert response.status_code == 400, response.content
    assert "callSid" in response.json()["details"]


def test_call_sids_are_unique(staff_client, calls):
    response = staff_client.post(CALLS, {"callSid": call_sid(1)}, format="json")

    assert response.status_code == 400
    assert "callSid" in response.json()["details"]


def test_unknown_statuses_and_directions_are_refused(staff_client, db):
    response = staff_client.post(CALLS, {"callSid": call_sid(11), "status": "exploded"}, format="json")
    other = staff_client.post(CALLS, {"callSid": call_sid(11), "direction": "sideways"}, format="json")

    assert response.status_code == 400 and "status" in response.json()["details"]
    assert other.status_code == 400 and "direction" in other.json()["details"]


def test_a_second_live_call_for_one_agent_is_a_409(staff_client, calls, other_agent):
    response = staff_client.post(
        CALLS, {"callSid": call_sid(12), "agent": other_agent.pk, "status": "in-progress"}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert call_sid(2) in body["message"]
    assert not Call.objects.filter(call_sid=call_sid(12)).exists()


def test_moving_a_live_call_to_a_busy_agent_is_a_409(staff_client, calls, other_agent):
    first, second, third = calls
    Call.objects.filter(pk=third.pk).update(status=CallStatus.QUEUED)

    response = staff_client.patch(f"{CALLS}/{third.pk}", {"agent": other_agent.pk}, format="json")

    assert response.status_code == 409
    third.refresh_from_db()
    assert third.agent is None


def test_an_agent_may_have_any_number_of_finished_calls(staff_client, calls, other_agent):
    response = staff_client.post(
        CALLS, {"callSid": call_sid(13), "agent": other_agent.pk, "status": "completed"}, format="json"
    )

    assert response.status_code == 201, response.content


def test_updating_the_live_call_itself_is_not_a_conflict(staff_client, calls):
    second = calls[1]

    response = staff_client.patch(f"{CALLS}/{second.pk}", {"status": "in-progress", "voicemail": False}, format="json")

    assert response.status_code == 200, response.content


def test_the_database_constraint_still_answers_409_when_the_check_is_raced(
    staff_client, calls, other_agent, monkeypatch
):
    # Another request assigned the agent between our check and our insert: the constraint is the last word.
    monkeypatch.setattr("voiceconfig.calls.agent_active_call", lambda **kwargs: None)

    response = staff_client.post(
        CALLS, {"callSid": call_sid(14), "agent": other_agent.pk, "status": "ringing"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert not Call.objects.filter(call_sid=call_sid(14)).exists()


def test_durations_and_conference_fields_are_read_only(staff_client, calls):
    first = calls[0]

    response = staff_client.patch(
        f"{CALLS}/{first.pk}", {"talkSeconds": 9999, "conferenceName": "hijack", "onHold": True}, format="json"
    )

    assert response.status_code == 200
    first.refresh_from_db()
    assert (first.talk_seconds, first.conference_name, first.on_hold) == (30, "", False)


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


def test_retrieve_put_and_delete_a_call(staff_client, calls, line):
    third = calls[2]
    CallLog.objects.create(call=third, call_sid=third.call_sid, event="status", call_status="no-answer")

    shown = staff_client.get(f"{CALLS}/{third.pk}").json()
    replaced = staff_client.put(
        f"{CALLS}/{third.pk}",
        {"callSid": third.call_sid, "from": "+447700900999", "to": line.phone_number, "phoneLine": line.pk,
         "status": "completed", "direction": "inbound"},
        format="json",
    )  # fmt: skip
    deleted = staff_client.delete(f"{CALLS}/{third.pk}")

    assert shown["from"] == "client:alice"
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["from"] == "+447700900999"
    assert deleted.status_code == 204
    assert not Call.objects.filter(pk=third.pk).exists()
    assert not CallLog.objects.filter(call_sid=third.call_sid).exists()


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


def test_retrieve_put_patch_and_delete_a_log(staff_client, logs, calls):
    log = logs[1]

    shown = staff_client.get(f"{LOGS}/{log.pk}").json()
    put = staff_client.put(
        f"{LOGS}/{log.pk}", {"call": calls[1].pk, "event": "note", "message": "moved"}, format="json"
    )
    patched = staff_client.patch(f"{LOGS}/{log.pk}", {"message": "edited"}, format="json")
    deleted = staff_client.delete(f"{LOGS}/{log.pk}")

    assert shown["event"] == "ivr_input"
    assert put.status_code == 200 and put.json()["callSid"] == calls[1].call_sid
    assert patched.status_code == 200 and patched.json()["message"] == "edited"
    assert deleted.status_code == 204
    assert not CallLog.objects.filter(pk=log.pk).exists()


def test_calls_show_their_routing_stage_and_filter_by_it_but_staff_cannot_set_it(staff_client, calls):
    Call.objects.filter(pk=calls[1].pk).update(stage="queued")

    waiting = staff_client.get(CALLS, {"stage": "queued"})
    patched = staff_client.patch(f"{CALLS}/{calls[0].pk}", {"stage": "queued"}, format="json")

    assert sids(waiting) == [call_sid(2)]
    assert waiting.json()["results"][0]["stage"] == "queued"
    assert patched.status_code == 200
    calls[0].refresh_from_db()
    assert calls[0].stage != "queued"
