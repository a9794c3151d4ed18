"""The IVR choice's statement and the prebuilt reads of voiceconfig/calls/sql.py do what the ORM paths they
replace do (issue 14): same rows, same forward-only stage rule, same dedupe, and one statement.

The choice is replayed on twin calls in the same starting state, one through sql.choose_and_enqueue (PostgreSQL),
one through queue.choose_and_enqueue_by_orm (the three ORM steps, still SQLite's path); the reads are compared
with the ORM queries on both databases.
"""

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from voiceconfig.calls import availability, queue, sql
from voiceconfig.calls.stage import call_start
from voiceconfig.models import AgentStatus, Call, CallLog, CallStage, CallStatus, Department, IvrOption, VoiceConfig

pytestmark = pytest.mark.django_db

_sids = itertools.count(1)
UNCOMPARED = {"id", "call_sid", "conference_name", "created_at", "updated_at", "queued_at"}


def _sid() -> str:
    return f"CA{next(_sids) + 0xABC000:032x}"


def _state(call: Call) -> dict:
    call.refresh_from_db()
    return {f.attname: getattr(call, f.attname) for f in Call._meta.concrete_fields if f.attname not in UNCOMPARED}


def _logs(call: Call) -> list[tuple]:
    rows = CallLog.objects.filter(call_sid=call.call_sid).order_by("id")
    return [(row.call_id == call.id, row.event, row.call_status, row.message, row.data, row.dedupe_key) for row in rows]


def _choose(path, call: Call, *, department_id=None, attempt: int = 1) -> bool:
    return path(
        call=call,
        digit="1",
        department_id=department_id,
        dedupe_key=f"ivr:{attempt}",
        message="Chose 1: for sales.",
        data={"digits": "1"},
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    "state",
    [
        {"stage": CallStage.IVR, "status": CallStatus.IN_PROGRESS},  # the menu's answer: choice, then the queue
        {"stage": CallStage.NEW, "status": CallStatus.IN_PROGRESS},  # no menu heard: queued, no choice recorded
        {"stage": CallStage.QUEUED, "status": CallStatus.IN_PROGRESS},  # a replay after the move: nothing moves
        {"stage": CallStage.CONNECTED, "status": CallStatus.IN_PROGRESS},
        {"stage": CallStage.IVR, "status": CallStatus.COMPLETED},  # ended meanwhile: logged, never moved
        {"stage": CallStage.IVR, "status": CallStatus.RINGING, "queued_at": timezone.now() - timedelta(minutes=3)},
    ],
)
@pytest.mark.parametrize("with_department", [False, True])
def test_the_choice_statement_is_the_orm_paths(line, state, with_department):
    department_id = Department.objects.create(name="Sales").pk if with_department else None
    if state.get("status") == CallStatus.COMPLETED:
        state = {**state, "ended_at": timezone.now()}
    by_sql, by_orm = (Call.objects.create(call_sid=_sid(), phone_line=line, **state) for _ in range(2))
    queued_before = by_sql.queued_at
    # The same press twice (Twilio's retry, a replayed request): the second changes nothing and logs nothing.
    answers = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            moved = _choose(queue.call_choose_and_enqueue, by_sql, department_id=department_id)
        assert len(queries) == 1, "one statement: the log row, the choice and the enqueue"
        assert moved == _choose(queue.choose_and_enqueue_by_orm, by_orm, department_id=department_id)
        assert _state(by_sql) == _state(by_orm)
        assert _logs(by_sql) == _logs(by_orm)
        answers.append(moved)
    assert len(_logs(by_sql)) == 1
    movable = state["stage"] in (CallStage.NEW, CallStage.IVR) and "ended_at" not in state
    assert answers == [movable, False]
    if movable:
        assert by_sql.stage == CallStage.QUEUED
        assert by_sql.ivr_choice == ("1" if state["stage"] == CallStage.IVR else "")
        assert by_sql.department_id == department_id
        assert by_sql.queued_at == (queued_before or by_sql.queued_at)  # the first queued_at is kept


@pytest.mark.postgres
def test_a_choice_on_a_new_attempt_is_a_new_log_row_and_an_unmoved_call_is_left_as_it_was(line):
    call = Call.objects.create(call_sid=_sid(), phone_line=line, stage=CallStage.CONNECTED)
    assert not _choose(queue.call_choose_and_enqueue, call, attempt=1)
    assert not _choose(queue.call_choose_and_enqueue, call, attempt=2)
    assert call.stage == CallStage.CONNECTED and call.ivr_choice == ""
    assert [row[-1] for row in _logs(call)] == ["ivr:1", "ivr:2"]


def test_the_call_read_is_the_orm_querys(line):
    call, _ = call_start(call_sid=_sid(), from_number="+1415", to_number=line.phone_number, line=line, status="ringing")
    orphan, _ = call_start(call_sid=_sid(), from_number="+1415", to_number="+1999", line=None, status="ringing")
    for wanted in (call, orphan):
        with CaptureQueriesContext(connection) as queries:
            found = sql.call_with_line(wanted.call_sid)
        assert len(queries) == 1
        by_orm = Call.objects.select_related("phone_line__config").get(call_sid=wanted.call_sid)
        assert _fields(found) == _fields(by_orm)
        if by_orm.phone_line is None:
            assert found.phone_line is None
            continue
        with CaptureQueriesContext(connection) as queries:
            assert _fields(found.phone_line) == _fields(by_orm.phone_line)
            assert _fields(found.phone_line.config) == _fields(by_orm.phone_line.config)
        assert not queries, "the line and its config come with the call"
    assert sql.call_with_line("CA" + "f" * 32) is None


def test_the_new_call_insert_stores_what_create_stored(line):
    call, created = call_start(
        call_sid=_sid(),
        from_number="+14155550111",
        to_number=line.phone_number,
        line=line,
        status="ringing",
        stage=CallStage.QUEUED,
    )
    assert created and call.pk and not call._state.adding
    by_orm = Call.objects.create(
        call_sid=_sid(),
        from_number="+14155550111",
        to_number=line.phone_number,
        phone_line=line,
        status="ringing",
        stage=CallStage.QUEUED,
        started_at=call.started_at,
        queued_at=call.queued_at,
        conference_name=call.conference_name,
    )
    stored = Call.objects.get(pk=call.pk)
    skip = {"id", "call_sid", "created_at", "updated_at"}
    assert {k: v for k, v in _fields(stored).items() if k not in skip} == {
        k: v for k, v in _fields(by_orm).items() if k not in skip
    }
    assert _fields(stored) == _fields(call)  # the instance holds what was stored (id, defaults, timestamps)
    again, created = call_start(
        call_sid=call.call_sid, from_number="+1", to_number=line.phone_number, line=line, status="ringing"
    )
    assert not created and again.pk == call.pk  # the same CallSid twice: the stored call, no second row


def test_the_options_read_is_the_orm_querys(config):
    for digit in ("9", "1", "#", "3"):
        IvrOption.objects.create(config=config, digit=digit, label=f"option {digit}", action="route")
    by_orm = [_fields(o) for o in config.ivr_options.all()]
    assert [_fields(o) for o in sql.ivr_options(VoiceConfig.objects.get(pk=config.pk))] == by_orm
    assert sql.ivr_options(VoiceConfig.objects.create(name="No menu")) == []


@pytest.mark.postgres
@pytest.mark.parametrize("digits", [(), ("9", "1", "#", "3")])
def test_the_options_loaded_with_the_call_are_the_orm_querys(line, digits):
    for digit in digits:
        IvrOption.objects.create(config=line.config, digit=digit, label=f"option {digit}", keywords="a b")
    call, _ = call_start(call_sid=_sid(), from_number="+1415", to_number=line.phone_number, line=line, status="ringing")
    with CaptureQueriesContext(connection) as queries:
        found = sql.call_with_line(call.call_sid, with_options=True)
        options = sql.ivr_options(found.phone_line.config)
        also = list(found.phone_line.config.ivr_options.all())
    assert len(queries) == 1, "the options come with the call"
    by_orm = [_fields(o) for o in line.config.ivr_options.all()]
    assert [_fields(o) for o in options] == by_orm == [_fields(o) for o in also]
    assert _fields(found) == _fields(Call.objects.get(pk=call.pk))


@pytest.mark.parametrize(
    "status, heartbeat_ago, wrap_up_ends_in",
    [
        (AgentStatus.AVAILABLE, 5, None),
        (AgentStatus.AVAILABLE, 3600, None),  # console gone
        (AgentStatus.WRAP_UP, 5, -10),  # wrap-up over
        (AgentStatus.WRAP_UP, 5, 10),  # still wrapping up
        (AgentStatus.OFFLINE, 5, None),
        (AgentStatus.IN_CALL, 5, None),
    ],
)
def test_anyone_available_is_the_orm_querys(online_agent, status, heartbeat_ago, wrap_up_ends_in):
    now = timezone.now()
    agent = online_agent("alice")
    agent.status = status
    agent.last_heartbeat_at = now - timedelta(seconds=heartbeat_ago)
    agent.wrap_up_until = now + timedelta(seconds=wrap_up_ends_in) if wrap_up_ends_in is not None else None
    agent.save()
    for excluded in ((), (agent.pk,), (agent.pk + 1, agent.pk + 2)):
        assert availability.anyone_available(now=now, exclude_agent_ids=excluded) == (
            availability.anyone_available_by_orm(now=now, exclude_agent_ids=excluded)
        ), excluded
    expected = status == AgentStatus.AVAILABLE or (status == AgentStatus.WRAP_UP and wrap_up_ends_in < 0)
    assert availability.anyone_available(now=now) == (expected and heartbeat_ago < 60)


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_insert_stores_values_off_the_defaults_as_create_does(line):
    # The insert prepares None and each constant default once (issue 14); any other value, including one equal
    # to a default but of another type (0 for False), still goes through its field.
    now = timezone.now()
    values = dict(
        from_number="+14155550111",
        to_number=line.phone_number,
        phone_line=line,
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.CONNECTED,
        ivr_attempts=2,
        ivr_choice="1",
        on_hold=1,
        voicemail=0,
        wait_seconds=7,
        recording_url="https://api.twilio.com/r/RE1",
        started_at=now,
        answered_at=now,
    )
    call = Call(call_sid=_sid(), **values)
    sql.insert_call(call)
    by_orm = Call.objects.create(call_sid=_sid(), **values)
    skip = {"id", "call_sid", "created_at", "updated_at"}
    stored, expected = _fields(Call.objects.get(pk=call.pk)), _fields(Call.objects.get(pk=by_orm.pk))
    assert {k: v for k, v in stored.items() if k not in skip} == {k: v for k, v in expected.items() if k not in skip}
    assert stored["on_hold"] is True and stored["voicemail"] is False and stored["ivr_attempts"] == 2
