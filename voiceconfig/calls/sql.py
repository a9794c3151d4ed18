"""Fixed-shape statements of the webhook hot paths, written as SQL (issue 14).

The ORM spent longer building these statements in Python on every request than PostgreSQL spent running them,
and the status callback made five round trips (BEGIN, SELECT ... FOR UPDATE, INSERT, UPDATE, COMMIT). Each
statement here replaces one ORM path of the call package and does exactly what it does; a test pins each against
that path (tests/test_calls_sql.py: same rows, same forward-only rule, same dedupe, replay safe). Everything else
stays ORM. The status statement is PostgreSQL only (on SQLite its caller keeps the ORM path); the line lookup is
plain SQL both databases accept.
"""

import dataclasses
import functools
import json
import weakref
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from ..models import (
    TERMINAL_CALL_STATUSES,
    AgentStatus,
    BusinessHours,
    Call,
    CallDirection,
    CallEvent,
    CallLog,
    CallStage,
    Department,
    Holiday,
    IvrOption,
    PhoneLine,
    RingOffer,
    RingOfferState,
    VoiceAgent,
    VoiceConfig,
)
from .wrapup import ON_THE_CALL

# Outcomes of the status statement (STATUS_EVENT_SQL's `action`).
MOVED = "move"  # the call moved forward: the status, and for a terminal one its end, stage and durations
IGNORED = "ignore"  # stale or not forward: at most the SequenceNumber is recorded
NEEDS_ORM = "orm"  # the one case the statement leaves to the ORM path: an earlier end time to correct

HUNG_UP_WAITING = "The caller hung up before reaching an agent."
WRAPS_UP = "The agent wraps up."
RELEASED = " released: the caller hung up before they answered."  # after "Agent <id>"
UNKNOWN_CALL = "Status callback for a call we never saw."
# Stages a hang-up abandons (stage.TRANSITIONS[HANG_UP]); the test pins it to the table.
WAITING_STAGES = [CallStage.NEW, CallStage.IVR, CallStage.QUEUED]


def is_available() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class StatusOutcome:
    """What the status statement did. `call` is None for a CallSid we never saw (then only logged)."""

    action: str | None
    call: Call | None
    abandoned: bool = False
    wraps_up: bool = False  # the agent who talked wraps up
    released_agent: int | None = None  # the agent still ringing, released (their leg to cancel: released_leg)
    released_leg: str = ""
    offer_legs: list[str] = dataclasses.field(
        default_factory=list
    )  # ring-all legs still ringing for a caller who hung up


# One round trip for a whole status callback, in autocommit (the statement is its own transaction):
# - cur: the call's row, locked (FOR UPDATE returns its newest version, so a concurrent callback is waited for
#   and the decision below sees what it committed);
# - plan: the same decision as status._advance_status and _finish, in SQL: forward-only by rank, never back from
#   a stale SequenceNumber; a terminal status settles the agent (wrap-up when they talked, released when still
#   ringing). An earlier end time to correct is NEEDS_ORM: the statement changes nothing and the caller runs the
#   ORM path;
# - moved: the call's UPDATE (only when something changes: the ORM path saves nothing otherwise);
# - settled: the agent's UPDATE, as wrapup.agent_start_wrap_up or the release of a ringing agent;
# - logged: the CallLog row, ON CONFLICT DO NOTHING (a second copy of the event inserts nothing), or the
#   unknown-call row when there is no call.
_STATUS_EVENT_SQL = """
WITH cur AS (
    SELECT id, call_sid, status, stage, phone_line_id, agent_id, agent_call_sid, last_sequence_number,
           queued_at, answered_at, ended_at, wait_seconds, talk_seconds, direction
    FROM {call} WHERE call_sid = %(sid)s FOR UPDATE
),
decided AS (
    SELECT cur.*,
        CASE
            WHEN NOT stale AND forward THEN 'move'
            WHEN NOT (
                %(terminal)s AND status = ANY(%(terminals)s) AND %(moment)s::timestamptz IS NOT NULL
                AND ended_at IS NOT NULL AND %(moment)s::timestamptz < ended_at
            ) THEN 'ignore'
            ELSE 'orm'
        END AS action,
        -- status._advance_status tests `(last or -1) < seq`: a stored 0 counts as none (and is written again).
        %(seq)s::integer IS NOT NULL AND COALESCE(NULLIF(last_sequence_number, 0), -1) < %(seq)s::integer
            AS seq_grows
    FROM (
        SELECT cur.*,
            %(seq)s::integer IS NOT NULL AND last_sequence_number IS NOT NULL
                AND %(seq)s::integer < last_sequence_number AS stale,
            status = ANY(%(before)s) AS forward
        FROM cur
    ) AS cur
),
plan AS (
    SELECT decided.*,
        ends AND stage = ANY(%(waiting)s) AS abandons,
        ends AND agent_id IS NOT NULL AND answered_at IS NOT NULL AND NOT stage = ANY(%(waiting)s) AS wraps,
        ends AND agent_id IS NOT NULL AND NOT (answered_at IS NOT NULL AND NOT stage = ANY(%(waiting)s))
            AS releases
    FROM (SELECT decided.*, action = 'move' AND %(terminal)s AS ends FROM decided) AS decided
),
moved AS (
    UPDATE {call} AS c SET
        status = CASE WHEN p.action = 'move' THEN %(status)s ELSE c.status END,
        last_sequence_number = CASE WHEN p.seq_grows THEN %(seq)s::integer ELSE c.last_sequence_number END,
        updated_at = %(now)s,
        ended_at = CASE WHEN p.ends THEN %(ended)s ELSE c.ended_at END,
        stage = CASE WHEN p.abandons THEN %(abandoned)s ELSE c.stage END,
        agent_id = CASE WHEN p.releases THEN NULL ELSE c.agent_id END,
        agent_call_sid = CASE WHEN p.releases THEN '' ELSE c.agent_call_sid END,
        -- timing.recompute_durations: whole seconds, 0 when the end is before the start.
        wait_seconds = CASE WHEN p.ends AND c.queued_at IS NOT NULL
            THEN GREATEST(0, FLOOR(EXTRACT(EPOCH FROM COALESCE(c.answered_at, %(ended)s) - c.queued_at)))::integer
            ELSE c.wait_seconds END,
        talk_seconds = CASE WHEN p.ends AND c.answered_at IS NOT NULL
            THEN GREATEST(0, FLOOR(EXTRACT(EPOCH FROM %(ended)s - c.answered_at)))::integer
            ELSE c.talk_seconds END,
        -- stats_facts.settle_stats_facts: the statistics' facts of the end (offered, abandoned, wrap-up given).
        offered = CASE WHEN p.ends THEN c.direction = %(inbound)s AND c.queued_at IS NOT NULL ELSE c.offered END,
        abandoned = CASE WHEN p.ends THEN c.direction = %(inbound)s AND c.queued_at IS NOT NULL AND p.abandons
            AND c.answered_at IS NULL ELSE c.abandoned END,
        wrap_up_seconds = CASE WHEN p.wraps THEN COALESCE((
                SELECT cfg.wrap_up_seconds FROM {line} AS l JOIN {config} AS cfg ON cfg.id = l.config_id
                WHERE l.id = p.phone_line_id), 0)
            ELSE c.wrap_up_seconds END
    FROM plan AS p
    WHERE c.id = p.id AND (p.action = 'move' OR (p.action = 'ignore' AND p.seq_grows))
    RETURNING c.id, c.status, c.stage, c.agent_id, c.agent_call_sid, c.last_sequence_number, c.ended_at,
        c.wait_seconds, c.talk_seconds
),
settled AS (
    UPDATE {agent} AS a SET
        last_call_ended_at = CASE WHEN p.wraps THEN %(now)s ELSE a.last_call_ended_at END,
        status = CASE WHEN p.releases THEN %(available)s
                      WHEN a.status = ANY(%(on_the_call)s) THEN %(wrap_up)s ELSE a.status END,
        status_changed_at = CASE WHEN p.releases OR a.status = ANY(%(on_the_call)s) THEN %(now)s
                                 ELSE a.status_changed_at END,
        wrap_up_until = CASE WHEN p.wraps AND a.status = ANY(%(on_the_call)s)
            THEN %(now)s + make_interval(secs => COALESCE((
                SELECT cfg.wrap_up_seconds FROM {line} AS l JOIN {config} AS cfg ON cfg.id = l.config_id
                WHERE l.id = p.phone_line_id), 0))
            ELSE a.wrap_up_until END
    FROM plan AS p
    WHERE a.id = p.agent_id AND (p.wraps OR (p.releases AND a.status = %(ringing)s))
),
-- A caller who hangs up while a ring-all rings members for them (ringall.py): the offers are cancelled and
-- their members free at once; the legs to hang up come back in the final SELECT. Never the call's own agent
-- (`settled`): a call being rung by offers has none.
offers_ended AS (
    UPDATE {offer} AS o SET state = %(offer_cancelled)s, ended_at = %(now)s
    FROM plan AS p
    WHERE p.abandons AND o.call_id = p.id AND o.state = %(offer_live)s
    RETURNING o.agent_id, o.leg_call_sid
),
offers_freed AS (
    UPDATE {agent} AS a SET status = %(available)s, status_changed_at = %(now)s
    FROM offers_ended AS e
    WHERE a.id = e.agent_id AND a.status = %(ringing)s
),
logged AS (
    INSERT INTO {log} (call_id, call_sid, event, dedupe_key, call_status, message, data, sequence_number,
                       created_at)
    SELECT p.id, %(log_sid)s, %(event)s, %(dedupe)s, %(status)s,
        CASE WHEN p.action = 'ignore' THEN 'Ignored: the call is already ' || p.status || '.'
             ELSE concat_ws(' ',
                CASE WHEN p.abandons THEN %(hung_up)s END,
                CASE WHEN p.wraps THEN %(wraps_up)s
                     WHEN p.releases THEN 'Agent ' || p.agent_id || %(released)s END)
        END,
        %(data)s::jsonb, %(seq)s::integer, %(now)s
    FROM plan AS p WHERE p.action IN ('move', 'ignore')
    UNION ALL
    SELECT NULL, %(log_sid)s, %(unknown_event)s, %(dedupe)s, %(status)s, %(unknown)s, %(data)s::jsonb,
        %(seq)s::integer, %(now)s
    WHERE NOT EXISTS (SELECT 1 FROM cur)
    ON CONFLICT DO NOTHING
)
SELECT p.action, p.abandons, p.wraps, p.releases, p.agent_id, p.agent_call_sid,
    ARRAY(SELECT e.leg_call_sid FROM offers_ended AS e WHERE e.leg_call_sid <> ''),
    p.id, p.call_sid, p.direction, COALESCE(m.status, p.status), COALESCE(m.stage, p.stage), p.phone_line_id,
    CASE WHEN m.id IS NULL THEN p.agent_id ELSE m.agent_id END, COALESCE(m.agent_call_sid, p.agent_call_sid),
    COALESCE(m.last_sequence_number, p.last_sequence_number), p.queued_at, p.answered_at,
    COALESCE(m.ended_at, p.ended_at), COALESCE(m.wait_seconds, p.wait_seconds),
    COALESCE(m.talk_seconds, p.talk_seconds)
FROM plan AS p LEFT JOIN moved AS m ON m.id = p.id
"""
# What the status machine reads and writes on a call: the columns status._lock_for_status loads, and those the
# final SELECT of the statement above returns (after `action`, `abandons` ... and the offers' legs, led by the id)
# in this order, which must be the model's field order (Model.from_db fills the loaded fields in the model's order).
STATE_FIELDS = (
    "call_sid",
    "direction",
    "status",
    "stage",
    "phone_line",
    "agent",
    "agent_call_sid",
    "last_sequence_number",
    "queued_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
)
_STATE_ATTNAMES = ("id", *(Call._meta.get_field(name).attname for name in STATE_FIELDS))


# The status statement's parameters, in the order of PREPARE's $1, $2, ... and their types.
_STATUS_EVENT_PARAMS = {
    "sid": "text",
    "log_sid": "text",
    "status": "text",
    "before": "text[]",
    "terminal": "boolean",
    "terminals": "text[]",
    "moment": "timestamptz",
    "seq": "integer",
    "waiting": "text[]",
    "abandoned": "text",
    "now": "timestamptz",
    "ended": "timestamptz",
    "available": "text",
    "on_the_call": "text[]",
    "wrap_up": "text",
    "ringing": "text",
    "event": "text",
    "dedupe": "text",
    "hung_up": "text",
    "wraps_up": "text",
    "released": "text",
    "data": "jsonb",
    "unknown_event": "text",
    "unknown": "text",
    "offer_live": "text",
    "offer_cancelled": "text",
    "inbound": "text",
}
_PREPARED_NAME = "voice_status_event"
# Per raw DB-API connection, the statements prepared on it: name -> True, or None for a PREPARE whose round trip
# failed (it may or may not have stayed). A new connection has none.
_prepared_on: "weakref.WeakKeyDictionary[object, dict[str, bool | None]]" = weakref.WeakKeyDictionary()


@functools.cache
def _status_event_prepare() -> str:
    """PREPARE of the status statement, its parameters as $1...$n in _STATUS_EVENT_PARAMS' order.

    Prepared once per connection, because PostgreSQL took longer to plan this statement (several CTEs) than to
    run it (EXPLAIN ANALYZE: ~1 ms of execution after up to 6 ms of planning on the loaded bench machine); a
    prepared statement is planned once and then reused (after five runs PostgreSQL keeps a generic plan).
    """
    text = _status_event_sql()
    for number, name in enumerate(_STATUS_EVENT_PARAMS, start=1):
        text = text.replace(f"%({name})s", f"${number}")
    assert "%(" not in text, "every parameter of the status statement has a type in _STATUS_EVENT_PARAMS"
    types = ", ".join(_STATUS_EVENT_PARAMS.values())
    return f"PREPARE {_PREPARED_NAME} ({types}) AS {text}"


def _execute_status_event(cursor, params: dict) -> None:
    _execute_prepared(cursor, _PREPARED_NAME, _status_event_prepare(), [params[name] for name in _STATUS_EVENT_PARAMS])


@functools.cache
def _prepare_positional(name: str, sql: str) -> str:
    """PREPARE of a statement written with positional %s parameters (their types inferred from their use)."""
    parts = sql.split("%s")
    text = parts[0] + "".join(f"${number}{part}" for number, part in enumerate(parts[1:], start=1))
    return f"PREPARE {name} AS {text}"


def _execute_prepared(cursor, name: str, prepare: str, values: list) -> None:
    """EXECUTE a prepared statement; on a connection that has not prepared it yet, PREPARE it in the same round
    trip (one query string, two statements), so the first use costs no extra round trip (PostgreSQL only).

    Used for the hot paths' statements whose planning cost more than their execution (EXPLAIN ANALYZE on the
    loaded bench machine: the line lookup planned in ~1 ms and ran in 0.09 ms; the call read with its options
    0.5 ms and 0.12 ms); a pooler in transaction mode needs its prepared-statement support (docs/webhooks.md).
    """
    execute = f"EXECUTE {name} ({', '.join(['%s'] * len(values))})" if values else f"EXECUTE {name}"
    raw = connection.connection
    prepared_here = _prepared_on.setdefault(raw, {})
    prepared = prepared_here.get(name)
    if prepared is None and name in prepared_here:
        # An earlier PREPARE; EXECUTE failed: the PREPARE may have stayed (it is not undone with the EXECUTE).
        cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [name])
        prepared = cursor.fetchone() is not None
        prepared_here[name] = prepared
    if prepared:
        cursor.execute(execute, values)
        return
    prepared_here[name] = None  # unknown until the round trip succeeds
    cursor.execute(f"{prepare}; {execute}", values)
    prepared_here[name] = True


def _execute_hot(cursor, name: str, sql: str, values: list) -> None:
    """A hot path's fixed statement: prepared once per connection on PostgreSQL, plain elsewhere."""
    if connection.vendor == "postgresql":
        _execute_prepared(cursor, name, _prepare_positional(name, sql), values)
    else:
        cursor.execute(sql, values)


@functools.cache
def _status_event_sql() -> str:
    quote = connection.ops.quote_name
    return _STATUS_EVENT_SQL.format(
        call=quote(Call._meta.db_table),
        log=quote(CallLog._meta.db_table),
        agent=quote(VoiceAgent._meta.db_table),
        line=quote(PhoneLine._meta.db_table),
        config=quote(VoiceConfig._meta.db_table),
        offer=quote(RingOffer._meta.db_table),
    )


def apply_status_event(
    *,
    call_sid: str,
    status: str,
    before: list[str],
    sequence_number: int | None,
    moment: datetime | None,
    now: datetime,
    dedupe_key: str,
    data: dict | None,
) -> StatusOutcome:
    """One status callback in one statement (status.call_apply_status on PostgreSQL).

    `status` is one of STATUS_RANK's and `before` the statuses it moves a call on from. On NEEDS_ORM nothing
    was written: the caller runs the ORM path.
    """
    terminal = status in TERMINAL_CALL_STATUSES
    params = {
        "sid": call_sid,
        "log_sid": call_sid[:34],
        "status": status,
        "before": before,
        "terminal": terminal,
        "terminals": list(TERMINAL_CALL_STATUSES),
        "waiting": WAITING_STAGES,
        "abandoned": CallStage.ABANDONED,
        "seq": sequence_number,
        "moment": moment,
        "ended": moment or now,
        "now": now,
        "event": CallEvent.STATUS,
        "unknown_event": CallEvent.UNKNOWN_CALL,
        "dedupe": dedupe_key[:200],
        "data": json.dumps(data or {}),
        "hung_up": HUNG_UP_WAITING,
        "wraps_up": WRAPS_UP,
        "released": RELEASED,
        "available": AgentStatus.AVAILABLE,
        "ringing": AgentStatus.RINGING,
        "wrap_up": AgentStatus.WRAP_UP,
        "on_the_call": list(ON_THE_CALL),
        "unknown": UNKNOWN_CALL,
        "offer_live": RingOfferState.RINGING,
        "offer_cancelled": RingOfferState.CANCELLED,
        "inbound": CallDirection.INBOUND,
    }
    with connection.cursor() as cursor:
        _execute_status_event(cursor, params)
        row = cursor.fetchone()
    if row is None:
        return StatusOutcome(action=None, call=None)
    action, abandoned, wraps, releases, agent_id, agent_leg, offer_legs, *values = row
    call = Call.from_db(connection.alias, _STATE_ATTNAMES, values)
    return StatusOutcome(
        action=action,
        call=call,
        abandoned=abandoned,
        wraps_up=wraps,
        released_agent=agent_id if releases else None,
        released_leg=agent_leg if releases else "",
        offer_legs=list(offer_legs or []),
    )


# --- the incoming call's line -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LineStatement:
    sql: str
    line_fields: tuple
    config_fields: tuple
    department_fields: tuple
    converters: tuple  # per selected column: the converters the ORM's compiler would apply


@functools.cache
def _line_statement(vendor: str) -> _LineStatement:
    """Built once from the models' metadata (a column added to either model is selected too)."""
    quote = connection.ops.quote_name
    line_fields = tuple(PhoneLine._meta.concrete_fields)
    config_fields = tuple(VoiceConfig._meta.concrete_fields)
    department_fields = tuple(Department._meta.concrete_fields)
    columns = (
        [f"l.{quote(f.column)}" for f in line_fields]
        + [f"c.{quote(f.column)}" for f in config_fields]
        + [f"d.{quote(f.column)}" for f in department_fields]
    )
    line_config = quote(PhoneLine._meta.get_field("config").column)
    line_department = quote(PhoneLine._meta.get_field("default_department").column)
    exists = [
        f"EXISTS (SELECT 1 FROM {quote(model._meta.db_table)} x"
        f" WHERE x.{quote(model._meta.get_field('config').column)} = l.{line_config})"
        for model in (BusinessHours, Holiday, IvrOption)
    ]
    sql = (
        f"SELECT {', '.join(columns + exists)} FROM {quote(PhoneLine._meta.db_table)} l"
        f" INNER JOIN {quote(VoiceConfig._meta.db_table)} c ON c.{quote(VoiceConfig._meta.pk.column)}"
        f" = l.{line_config}"
        # The line's default department too (issue 16): routing reads it on every incoming call.
        f" LEFT OUTER JOIN {quote(Department._meta.db_table)} d ON d.{quote(Department._meta.pk.column)}"
        f" = l.{line_department}"
        f" WHERE l.{quote(PhoneLine._meta.get_field('phone_number').column)} = %s"
    )
    converters = []
    for field in (*line_fields, *config_fields, *department_fields):
        column = field.get_col(field.model._meta.db_table)
        converters.append(
            (column, tuple(connection.ops.get_db_converters(column)) + tuple(field.get_db_converters(connection)))
        )
    return _LineStatement(sql, line_fields, config_fields, department_fields, tuple(converters))


def line_with_config(phone_number: str) -> PhoneLine | None:
    """The line with that number, its config and default department (select_related) and has_hours/has_holidays/
    has_options.

    Replaces `PhoneLine.objects.select_related("config").annotate(<three EXISTS>).get(phone_number=...)`, which
    the ORM rebuilt on every incoming call (issue 14). Both databases: plain SQL that SQLite accepts too.
    """
    statement = _line_statement(connection.vendor)
    with connection.cursor() as cursor:
        _execute_hot(cursor, "voice_line_with_config", statement.sql, [phone_number])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for value, (column, converters) in zip(row, statement.converters, strict=False):
        for converter in converters:
            value = converter(value, column, connection)
        values.append(value)
    n_line = len(statement.line_fields)
    n_config = len(statement.config_fields)
    n_known = n_line + n_config + len(statement.department_fields)
    line = PhoneLine.from_db(connection.alias, [f.attname for f in statement.line_fields], values[:n_line])
    config = VoiceConfig.from_db(
        connection.alias, [f.attname for f in statement.config_fields], values[n_line : n_line + n_config]
    )
    PhoneLine._meta.get_field("config").set_cached_value(line, config)
    department = None
    if line.default_department_id is not None:
        department = Department.from_db(
            connection.alias, [f.attname for f in statement.department_fields], values[n_line + n_config : n_known]
        )
    PhoneLine._meta.get_field("default_department").set_cached_value(line, department)
    line.has_hours, line.has_holidays, line.has_options = (bool(v) for v in row[n_known:])
    return line


# --- reading rows with prebuilt statements ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """One model's columns in a prebuilt SELECT: its fields and, per column, the converters the ORM applies."""

    model: type
    fields: tuple
    converters: tuple

    @classmethod
    def of(cls, model) -> "_Part":
        fields = tuple(model._meta.concrete_fields)
        converters = []
        for field in fields:
            column = field.get_col(model._meta.db_table)
            found = tuple(connection.ops.get_db_converters(column)) + tuple(field.get_db_converters(connection))
            converters.append((column, found))
        return cls(model, fields, tuple(converters))

    def columns(self, alias: str) -> list[str]:
        return [f"{alias}.{connection.ops.quote_name(f.column)}" for f in self.fields]

    def build(self, values):
        """The model instance from its columns' raw values, as the ORM's compiler would build it."""
        converted = []
        for value, (column, converters) in zip(values, self.converters, strict=True):
            for converter in converters:
                value = converter(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, [f.attname for f in self.fields], converted)


@functools.cache
def _call_statement(vendor: str, with_options: bool) -> tuple[str, _Part, _Part, _Part]:
    quote = connection.ops.quote_name
    call, line, config = _Part.of(Call), _Part.of(PhoneLine), _Part.of(VoiceConfig)
    options = []
    if with_options:
        # The config's IVR options as one JSON array of rows, in the model's order (PostgreSQL only).
        option = _Part.of(IvrOption)
        config_column = quote(IvrOption._meta.get_field("config").column)
        options = [
            f"(SELECT json_agg(json_build_array({', '.join(option.columns('o'))})"
            f" ORDER BY o.{config_column}, o.{quote(IvrOption._meta.get_field('digit').column)})"
            f" FROM {quote(IvrOption._meta.db_table)} o"
            f" WHERE o.{config_column} = l.{quote(PhoneLine._meta.get_field('config').column)})"
        ]
    sql = (
        f"SELECT {', '.join(call.columns('c') + line.columns('l') + config.columns('g') + options)}"
        f" FROM {quote(Call._meta.db_table)} c"
        f" LEFT OUTER JOIN {quote(PhoneLine._meta.db_table)} l"
        f" ON l.{quote(PhoneLine._meta.pk.column)} = c.{quote(Call._meta.get_field('phone_line').column)}"
        f" LEFT OUTER JOIN {quote(VoiceConfig._meta.db_table)} g"
        f" ON g.{quote(VoiceConfig._meta.pk.column)} = l.{quote(PhoneLine._meta.get_field('config').column)}"
        f" WHERE c.{quote(Call._meta.get_field('call_sid').column)} = %s"
    )
    return sql, call, line, config


def call_with_line(call_sid: str, *, with_options: bool = False) -> Call | None:
    """The call with that CallSid, its line and the line's config loaded with it (None when there is none).

    Replaces `Call.objects.select_related("phone_line__config").get(call_sid=...)`, which the ORM rebuilt on
    every webhook that reads the call (issue 14). Plain SQL both databases accept. `with_options` (the IVR
    answer): on PostgreSQL the config's IVR options come in the same statement, as if prefetched, so
    ivr_options(config) needs no second round trip.
    """
    with_options = with_options and connection.vendor == "postgresql"
    sql, call_part, line_part, config_part = _call_statement(connection.vendor, with_options)
    with connection.cursor() as cursor:
        _execute_hot(cursor, "voice_call_with_options" if with_options else "voice_call_with_line", sql, [call_sid])
        row = cursor.fetchone()
    if row is None:
        return None
    n_call, n_line, n_config = len(call_part.fields), len(line_part.fields), len(config_part.fields)
    call = call_part.build(row[:n_call])
    line = None
    if call.phone_line_id is not None:
        line = line_part.build(row[n_call : n_call + n_line])
        config = config_part.build(row[n_call + n_line : n_call + n_line + n_config])
        if with_options:
            option = _Part.of(IvrOption)
            options = [option.build(values) for values in row[-1] or []]
            # Django's own prefetch cache: config.ivr_options.all() answers from it too.
            config._prefetched_objects_cache = {IvrOption._meta.get_field("config").remote_field.related_name: options}
        PhoneLine._meta.get_field("config").set_cached_value(line, config)
    Call._meta.get_field("phone_line").set_cached_value(call, line)
    return call


@functools.cache
def _options_statement(vendor: str) -> tuple[str, _Part]:
    quote = connection.ops.quote_name
    part = _Part.of(IvrOption)
    config = quote(IvrOption._meta.get_field("config").column)
    sql = (
        f"SELECT {', '.join(part.columns('o'))} FROM {quote(IvrOption._meta.db_table)} o"
        f" WHERE o.{config} = %s ORDER BY o.{config}, o.{quote(IvrOption._meta.get_field('digit').column)}"
    )
    return sql, part


def ivr_options(config: VoiceConfig) -> list[IvrOption]:
    """The config's IVR options in the model's order (config, digit): `config.ivr_options.all()`, prebuilt, or
    those loaded with the call (call_with_line(with_options=True))."""
    prefetched = getattr(config, "_prefetched_objects_cache", {}).get("ivr_options")
    if prefetched is not None:
        return list(prefetched)
    sql, part = _options_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [config.pk])
        return [part.build(row) for row in cursor.fetchall()]


# --- the IVR choice that sends the caller to the queue -----------------------------------------------------------

# One round trip (PostgreSQL, autocommit) for what the ORM did in three transactions: the caller's entry on the
# timeline (call_log_add: ON CONFLICT DO NOTHING on its dedupe key), the choice (stage.CHOICE, only from `ivr`) and
# the enqueue (queue.call_enqueue: from `new` or `ivr`, the first queued_at kept, the option's department when it
# names one). The two moves share one conditional UPDATE: the enqueue's sources include the choice's, and both
# refuse an ended call, so the ORM's "choice, then enqueue" and this statement move the same calls; here nothing
# can come between the two.
_CHOICE_ENQUEUE_SQL = """
WITH logged AS (
    INSERT INTO {log} (call_id, call_sid, event, dedupe_key, call_status, message, data, sequence_number,
                       created_at)
    VALUES (%(id)s, %(log_sid)s, %(event)s, %(dedupe)s, %(log_status)s, %(message)s, %(data)s::jsonb, NULL,
            %(now)s)
    ON CONFLICT DO NOTHING
)
UPDATE {call} SET
    ivr_choice = CASE WHEN stage = ANY(%(choice_from)s) THEN %(digit)s ELSE ivr_choice END,
    stage = %(queued)s,
    queued_at = COALESCE(queued_at, %(now)s),
    department_id = COALESCE(%(department)s, department_id),
    updated_at = %(now)s
WHERE id = %(id)s AND stage = ANY(%(enqueue_from)s) AND NOT status = ANY(%(terminals)s)
RETURNING ivr_choice, stage, queued_at, department_id, updated_at
"""


# The choice statement's parameters, in the order of PREPARE's $1, $2, ... and their types.
_CHOICE_ENQUEUE_PARAMS = {
    "id": "bigint",
    "log_sid": "text",
    "event": "text",
    "dedupe": "text",
    "log_status": "text",
    "message": "text",
    "data": "jsonb",
    "now": "timestamptz",
    "digit": "text",
    "queued": "text",
    "department": "bigint",
    "choice_from": "text[]",
    "enqueue_from": "text[]",
    "terminals": "text[]",
}


@functools.cache
def _choice_enqueue_prepare() -> str:
    """PREPARE of the choice statement (planned once per connection, like the status statement)."""
    quote = connection.ops.quote_name
    text = _CHOICE_ENQUEUE_SQL.format(call=quote(Call._meta.db_table), log=quote(CallLog._meta.db_table))
    for number, name in enumerate(_CHOICE_ENQUEUE_PARAMS, start=1):
        text = text.replace(f"%({name})s", f"${number}")
    assert "%(" not in text, "every parameter of the choice statement has a type in _CHOICE_ENQUEUE_PARAMS"
    return f"PREPARE voice_choose_and_enqueue ({', '.join(_CHOICE_ENQUEUE_PARAMS.values())}) AS {text}"


def choose_and_enqueue(
    *,
    call: Call,
    digit: str,
    department_id: int | None,
    dedupe_key: str,
    log_status: str,
    message: str,
    data: dict,
    choice_from: list[str],
    enqueue_from: list[str],
    now: datetime,
) -> bool:
    """The IVR choice's log row, the choice and the enqueue in one statement; whether the caller was enqueued
    (then `call` holds what was written, else it is left as it was)."""
    params = {
        "id": call.pk,
        "log_sid": call.call_sid[:34],
        "event": CallEvent.IVR_INPUT,
        "dedupe": dedupe_key[:200],
        "log_status": log_status[:20],
        "message": message[:2000],
        "data": json.dumps(data),
        "now": now,
        "digit": digit,
        "queued": CallStage.QUEUED,
        "department": department_id,
        "choice_from": choice_from,
        "enqueue_from": enqueue_from,
        "terminals": list(TERMINAL_CALL_STATUSES),
    }
    with connection.cursor() as cursor:
        values = [params[name] for name in _CHOICE_ENQUEUE_PARAMS]
        _execute_prepared(cursor, "voice_choose_and_enqueue", _choice_enqueue_prepare(), values)
        row = cursor.fetchone()
    if row is None:
        return False
    call.ivr_choice, call.stage, call.queued_at, call.department_id, call.updated_at = row
    return True


# --- is anyone free at all ---------------------------------------------------------------------------------------


@functools.cache
def _anyone_available_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    field = VoiceAgent._meta.get_field
    status, until, heartbeat = (quote(field(name).column) for name in ("status", "wrap_up_until", "last_heartbeat_at"))
    return (
        f"SELECT 1 FROM {quote(VoiceAgent._meta.db_table)}"
        f" WHERE ({status} = %s OR ({status} = %s AND {until} <= %s)) AND {heartbeat} >= %s"
    )


def anyone_available(*, now: datetime, heartbeat_after: datetime, exclude_agent_ids=()) -> bool:
    """availability.anyone_available's read (free now: available, or wrap-up that has ended; heartbeat fresh),
    built once instead of by the ORM on every incoming call and IVR choice (issue 14). Both databases."""
    sql = _anyone_available_sql(connection.vendor)
    params = [AgentStatus.AVAILABLE, AgentStatus.WRAP_UP, now, heartbeat_after]
    excluded = list(exclude_agent_ids)
    with connection.cursor() as cursor:
        if excluded:
            placeholders = ", ".join(["%s"] * len(excluded))
            sql += f" AND NOT ({connection.ops.quote_name(VoiceAgent._meta.pk.column)} IN ({placeholders}))"
            cursor.execute(sql + " LIMIT 1", params + excluded)
        else:
            _execute_hot(cursor, "voice_anyone_available", sql + " LIMIT 1", params)
        return cursor.fetchone() is not None


# --- a new call ----------------------------------------------------------------------------------------------------


_NO_CONSTANT = object()


@dataclass(frozen=True)
class _Column:
    """One column of the new call's INSERT, with the database value of None and of the field's constant default
    prepared once: a new call leaves most of its ~40 columns at one of those, and preparing every one through its
    field (get_db_prep_save) cost about as much as all of the rest of the insert's Python (issue 14)."""

    field: object
    default: object  # the field's default when it is an immutable constant (str, int, bool, an enum), else _NO_CONSTANT
    prepared_default: object
    prepared_none: object

    def prepared(self, value):
        if value is None:
            return self.prepared_none
        # The same type too: 0 == False, and a plain str is not the enum member the default may be.
        if type(value) is type(self.default) and value == self.default:
            return self.prepared_default
        return self.field.get_db_prep_save(value, connection)


def _column(field) -> _Column:
    default = field.default if isinstance(field.default, (str, int, float)) else _NO_CONSTANT
    prepared_default = None if default is _NO_CONSTANT else field.get_db_prep_save(default, connection)
    return _Column(field, default, prepared_default, field.get_db_prep_save(None, connection))


@functools.cache
def _call_insert(vendor: str) -> tuple[str, tuple[_Column, ...]]:
    quote = connection.ops.quote_name
    fields = tuple(f for f in Call._meta.concrete_fields if not f.primary_key)
    sql = (
        f"INSERT INTO {quote(Call._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(Call._meta.pk.column)}"
    )
    return sql, tuple(_column(f) for f in fields)


def insert_call(call: Call) -> None:
    """INSERT a new Call built in memory, as `save()` would (defaults, auto_now fields, each field's database
    value), with a statement built once: the ORM's compiler cost as much as the round trip on every incoming
    call (issue 14). A duplicate CallSid raises IntegrityError like the ORM's insert. Both databases (SQLite
    3.35+ has RETURNING, which Django needs there too)."""
    sql, columns = _call_insert(connection.vendor)
    values = [column.prepared(column.field.pre_save(call, True)) for column in columns]
    with connection.cursor() as cursor:
        _execute_hot(cursor, "voice_insert_call", sql, values)
        call.pk = cursor.fetchone()[0]
    call._state.adding = False
    call._state.db = connection.alias
