"""voiceconfig/calls/sql.py does exactly what the ORM path it replaces does (issue 14 item 3).

Each case replays the same events, in the same order, on two calls in the same starting state: one through the
one-statement SQL path of call_apply_status, one through its ORM path. The calls must end identical, with the
same CallLog rows, the same answers to the caller, and the same replay and stale-event behaviour.
"""

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from voiceconfig.calls import sql
from voiceconfig.calls import status as status_machine
from voiceconfig.calls.stage import TRANSITIONS, StageEvent
from voiceconfig.models import AgentStatus, Call, CallLog, CallStage, CallStatus, VoiceAgent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

_sids = itertools.count(1)
T0 = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
# Columns that differ by construction between the twin calls (identity and clock of the write).
UNCOMPARED = {"id", "call_sid", "conference_name", "created_at", "updated_at"}


def _sid() -> str:
    return f"CA{next(_sids):032x}"


def _twin_calls(**state) -> tuple[Call, Call]:
    return tuple(Call.objects.create(call_sid=_sid(), **state) for _ in range(2))


def _apply(path, call_sid: str, event: tuple) -> status_machine.StatusResult:
    status, seq, moment = event
    data = {"CallStatus": status, "CallSid": call_sid}
    return path(call_sid=call_sid, status=status, sequence_number=seq, timestamp=moment, data=data)


def _state(call: Call) -> dict:
    call.refresh_from_db()
    return {f.attname: getattr(call, f.attname) for f in Call._meta.concrete_fields if f.attname not in UNCOMPARED}


def _logs(call: Call) -> list[tuple]:
    rows = CallLog.objects.filter(call_sid=call.call_sid).order_by("id")
    return [
        (row.call_id == call.id, row.event, row.call_status, row.message, row.sequence_number, row.dedupe_key)
        for row in rows
    ]


def _answer(result: status_machine.StatusResult) -> tuple:
    return (result.call is None, result.changed, result.ended, result.notes, result.legs_to_cancel)


def _assert_same(events: list[tuple], **state) -> list[str]:
    """Replays `events` through both paths; returns the SQL path's outcomes so a case can say which it took."""
    by_sql, by_orm = _twin_calls(**state)
    actions = []
    for event in events:
        with CaptureQueriesContext(connection) as queries:
            sql_answer = _answer(_apply(status_machine.call_apply_status, by_sql.call_sid, event))
        actions.append("one statement" if len(queries) == 1 else "orm")
        orm_answer = _answer(_apply(status_machine._apply_status_orm, by_orm.call_sid, event))
        assert sql_answer == orm_answer, event
        assert _state(by_sql) == _state(by_orm), event
        assert _logs(by_sql) == _logs(by_orm), event
    return actions


def test_the_hangup_stages_are_the_stage_machines():
    assert set(sql.WAITING_STAGES) == set(TRANSITIONS[StageEvent.HANG_UP][0])


@pytest.mark.parametrize("stage", [CallStage.NEW, CallStage.IVR, CallStage.QUEUED, CallStage.CONNECTED])
def test_a_full_life_without_an_agent(stage):
    events = [
        (CallStatus.RINGING, 1, T0),
        (CallStatus.IN_PROGRESS, 2, T0 + timedelta(seconds=3)),
        (CallStatus.COMPLETED, 3, T0 + timedelta(seconds=95)),
    ]
    actions = _assert_same(events, status=CallStatus.QUEUED, stage=stage, queued_at=T0 + timedelta(seconds=1))
    assert actions == ["one statement"] * 3


def test_durations_with_an_answer_before_the_end():
    state = {
        "status": CallStatus.IN_PROGRESS,
        "stage": CallStage.CONNECTED,
        "queued_at": T0,
        "answered_at": T0 + timedelta(seconds=12, microseconds=900_000),
    }
    _assert_same([(CallStatus.COMPLETED, None, T0 + timedelta(seconds=70, microseconds=500_000))], **state)


def test_an_end_reported_before_the_queue_counts_zero():
    _assert_same([(CallStatus.NO_ANSWER, 4, T0 - timedelta(seconds=5))], status=CallStatus.RINGING, queued_at=T0)


def test_no_timestamp_ends_the_call_now():
    by_sql, by_orm = _twin_calls(status=CallStatus.IN_PROGRESS, stage=CallStage.QUEUED, queued_at=T0)
    _apply(status_machine.call_apply_status, by_sql.call_sid, (CallStatus.COMPLETED, None, None))
    by_sql.refresh_from_db()
    assert by_sql.status == CallStatus.COMPLETED and by_sql.stage == CallStage.ABANDONED
    assert timezone.now() - by_sql.ended_at < timedelta(seconds=5)
    assert by_sql.wait_seconds >= 600


def test_replays_duplicates_and_stale_events_change_nothing_the_same_way():
    events = [
        (CallStatus.IN_PROGRESS, 2, T0),
        (CallStatus.IN_PROGRESS, 2, T0),  # Twilio delivers twice: no second row
        (CallStatus.RINGING, 1, T0),  # late and backwards: ignored, logged once
        (CallStatus.COMPLETED, 1, T0 + timedelta(seconds=9)),  # older SequenceNumber: never moves it
        (CallStatus.IN_PROGRESS, 5, T0),  # a higher SequenceNumber is recorded even when ignored
        (CallStatus.COMPLETED, 6, T0 + timedelta(seconds=30)),
        (CallStatus.COMPLETED, 6, T0 + timedelta(seconds=30)),
        (CallStatus.BUSY, None, T0 + timedelta(seconds=40)),  # terminal sticks
    ]
    actions = _assert_same(events, status=CallStatus.RINGING, stage=CallStage.QUEUED, queued_at=T0)
    assert actions == ["one statement"] * len(events)


def test_a_stored_sequence_number_of_zero_is_treated_alike():
    _assert_same([(CallStatus.RINGING, 0, T0), (CallStatus.RINGING, 0, T0)], status=CallStatus.INITIATED)
    _assert_same([(CallStatus.INITIATED, 0, T0)], status=CallStatus.RINGING, last_sequence_number=0)


def test_an_earlier_end_time_takes_the_orm_path_and_agrees():
    events = [
        (CallStatus.COMPLETED, None, T0 + timedelta(seconds=60)),
        (CallStatus.COMPLETED, 3, T0 + timedelta(seconds=50)),  # the earliest end reported wins
    ]
    actions = _assert_same(events, status=CallStatus.IN_PROGRESS, stage=CallStage.QUEUED, queued_at=T0)
    assert actions == ["one statement", "orm"]


def _agent_state(agent: VoiceAgent) -> tuple:
    agent.refresh_from_db()
    wrap_up = (
        agent.wrap_up_until - agent.last_call_ended_at if agent.wrap_up_until and agent.last_call_ended_at else None
    )
    return (agent.status, agent.last_call_ended_at is not None, agent.status_changed_at is not None, wrap_up)


@pytest.mark.parametrize(
    "answered, agent_status",
    [
        (True, AgentStatus.IN_CALL),  # talked: wrap-up for the config's time
        (True, AgentStatus.UNAVAILABLE),  # chose another status meanwhile: keeps it
        (False, AgentStatus.RINGING),  # still ringing: released at once, their leg cancelled
        (False, AgentStatus.AVAILABLE),
    ],
)
def test_the_agent_is_settled_as_the_orm_path_does(line, answered, agent_status):
    line.config.wrap_up_seconds = 45
    line.config.save()
    agents = [
        VoiceAgent.objects.create(
            user=User.objects.create_user(f"sql-agent-{n}"), identity=f"sql_agent_{n}", status=agent_status
        )
        for n in range(2)
    ]
    by_sql, by_orm = _twin_calls(
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.CONNECTED if answered else CallStage.QUEUED,
        queued_at=T0,
        phone_line=line,
    )
    for call, agent in zip((by_sql, by_orm), agents, strict=True):
        Call.objects.filter(pk=call.pk).update(
            agent=agent, agent_call_sid=_sid(), answered_at=T0 + timedelta(seconds=5) if answered else None
        )
    event = (CallStatus.COMPLETED, 4, T0 + timedelta(seconds=80))
    with CaptureQueriesContext(connection) as queries:
        sql_answer = _answer(_apply(status_machine.call_apply_status, by_sql.call_sid, event))
    orm_answer = _answer(_apply(status_machine._apply_status_orm, by_orm.call_sid, event))
    assert len(queries) == 1

    def same_agent(text, agent):
        return str(text).replace(f"Agent {agent.id} ", "Agent X ")

    assert [same_agent(part, agents[0]) for part in sql_answer[:4]] == [
        same_agent(part, agents[1]) for part in orm_answer[:4]
    ]
    assert len(sql_answer[4]) == len(orm_answer[4]) == (0 if answered else 1)
    sql_logs = [same_agent(row, agents[0]) for row in _logs(by_sql)]
    assert sql_logs == [same_agent(row, agents[1]) for row in _logs(by_orm)]
    sql_call, orm_call = _state(by_sql), _state(by_orm)
    assert (sql_call.pop("agent_id") is None) == (orm_call.pop("agent_id") is None)
    sql_call.pop("agent_call_sid"), orm_call.pop("agent_call_sid")
    assert sql_call == orm_call
    assert (by_sql.agent_call_sid == "") == (by_orm.agent_call_sid == "") == (not answered)
    assert _agent_state(agents[0]) == _agent_state(agents[1])
    if answered and agent_status == AgentStatus.IN_CALL:
        assert _agent_state(agents[0])[0] == AgentStatus.WRAP_UP
        assert _agent_state(agents[0])[3] == timedelta(seconds=45)


def test_an_unknown_call_is_logged_once():
    sid = _sid()
    for _ in range(2):
        result = _apply(status_machine.call_apply_status, sid, (CallStatus.COMPLETED, 3, T0))
        assert result.call is None
    rows = list(CallLog.objects.filter(call_sid=sid).values_list("call_id", "event", "message", "dedupe_key"))
    assert rows == [(None, "unknown_call", sql.UNKNOWN_CALL, "status:completed:3")]


def test_a_failed_first_round_trip_leaves_the_connection_usable(monkeypatch):
    """PREPARE is not undone when the EXECUTE sent with it fails: the next callback must not PREPARE again."""
    by_sql, _ = _twin_calls(status=CallStatus.RINGING)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    sql._prepared_on.pop(connection.connection, None)
    # A moment that is not a time: the EXECUTE fails after the PREPARE in the same round trip succeeded.
    with pytest.raises(DatabaseError), transaction.atomic():
        sql.apply_status_event(
            call_sid=by_sql.call_sid,
            status=CallStatus.IN_PROGRESS,
            before=status_machine.statuses_before(CallStatus.IN_PROGRESS),
            sequence_number=None,
            moment="not a time",
            now=timezone.now(),
            dedupe_key="status:in-progress",
            data=None,
        )
    result = _apply(status_machine.call_apply_status, by_sql.call_sid, (CallStatus.IN_PROGRESS, 1, T0))
    assert result.changed
    by_sql.refresh_from_db()
    assert by_sql.status == CallStatus.IN_PROGRESS


@pytest.mark.django_db(transaction=True)
def test_simultaneous_callbacks_for_one_call_end_the_same_as_in_any_order():
    """Real parallel transactions on PostgreSQL: each thread its own connection, all released at once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    events = [
        (CallStatus.RINGING, 1, T0),
        (CallStatus.IN_PROGRESS, 2, T0 + timedelta(seconds=2)),
        (CallStatus.COMPLETED, 3, T0 + timedelta(seconds=60)),
        (CallStatus.COMPLETED, 3, T0 + timedelta(seconds=60)),  # Twilio's second copy
    ]
    calls = [
        Call.objects.create(call_sid=_sid(), status=CallStatus.QUEUED, stage=CallStage.QUEUED, queued_at=T0)
        for _ in range(10)
    ]
    for call in calls:
        start = threading.Barrier(len(events))

        def send(event, call=call, start=start):
            start.wait()
            try:
                return _apply(status_machine.call_apply_status, call.call_sid, event).changed
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=len(events)) as pool:
            changed = list(pool.map(send, events))
        call.refresh_from_db()
        assert call.status == CallStatus.COMPLETED and call.last_sequence_number == 3
        assert call.stage == CallStage.ABANDONED and call.wait_seconds == 60
        assert sorted(CallLog.objects.filter(call=call).values_list("dedupe_key", flat=True)) == [
            "status:completed:3",
            "status:in-progress:2",
            "status:ringing:1",
        ]
        assert [changed[2], changed[3]].count(True) == 1  # one copy of the end ends it, the other changes nothing
