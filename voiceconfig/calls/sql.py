"""Fixed-shape statements of the webhook hot paths, written as SQL (issue 14).

The ORM spent longer building these statements in Python on every request than PostgreSQL spent running them,
and the status callback made five round trips (BEGIN, SELECT ... FOR UPDATE, INSERT, UPDATE, COMMIT). Each
statement here replaces one ORM path of the call package and does exactly what it does; a test pins each against
that path (tests/test_calls_sql.py: same rows, same forward-only rule, same dedupe, replay safe). Everything else
stays ORM. PostgreSQL only: on SQLite the callers keep their ORM path.
"""

import functools
import json
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from ..models import TERMINAL_CALL_STATUSES, Call, CallEvent, CallLog, CallStage

# Outcomes of the status statement (STATUS_EVENT_SQL's `action`).
MOVED = "move"  # the call moved forward: the status, and for a terminal one its end, stage and durations
IGNORED = "ignore"  # stale or not forward: at most the SequenceNumber is recorded
NEEDS_ORM = "orm"  # a case the statement leaves to the ORM path (an agent to settle, an end time to correct)

HUNG_UP_WAITING = "The caller hung up before reaching an agent."
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


# One round trip for a whole status callback, in autocommit (the statement is its own transaction):
# - cur: the call's row, locked (FOR UPDATE returns its newest version, so a concurrent callback is waited for
#   and the decision below sees what it committed);
# - plan: the same decision as status._advance_status, in SQL: forward-only by rank, never back from a stale
#   SequenceNumber; a terminal status on a call with an agent, or an earlier end time to correct, is NEEDS_ORM
#   and the statement changes nothing (the caller then runs the ORM path);
# - moved: the UPDATE (only when something changes: the ORM path saves nothing otherwise);
# - logged: the CallLog row, ON CONFLICT DO NOTHING (a second copy of the event inserts nothing), or the
#   unknown-call row when there is no call.
_STATUS_EVENT_SQL = """
WITH cur AS (
    SELECT id, call_sid, status, stage, phone_line_id, agent_id, agent_call_sid, last_sequence_number,
           queued_at, answered_at, ended_at, wait_seconds, talk_seconds
    FROM {call} WHERE call_sid = %(sid)s FOR UPDATE
),
plan AS (
    SELECT cur.*,
        CASE
            WHEN NOT stale AND forward AND (NOT %(terminal)s OR agent_id IS NULL) THEN 'move'
            WHEN (stale OR NOT forward) AND NOT (
                %(terminal)s AND status = ANY(%(terminals)s) AND %(moment)s::timestamptz IS NOT NULL
                AND ended_at IS NOT NULL AND %(moment)s::timestamptz < ended_at
            ) THEN 'ignore'
            ELSE 'orm'
        END AS action,
        -- status._advance_status tests `(last or -1) < seq`: a stored 0 counts as none (and is written again).
        %(seq)s::integer IS NOT NULL AND COALESCE(NULLIF(last_sequence_number, 0), -1) < %(seq)s::integer
            AS seq_grows,
        %(terminal)s AND stage = ANY(%(waiting)s) AS abandons
    FROM (
        SELECT cur.*,
            %(seq)s::integer IS NOT NULL AND last_sequence_number IS NOT NULL
                AND %(seq)s::integer < last_sequence_number AS stale,
            status = ANY(%(before)s) AS forward
        FROM cur
    ) AS cur
),
moved AS (
    UPDATE {call} AS c SET
        status = CASE WHEN p.action = 'move' THEN %(status)s ELSE c.status END,
        last_sequence_number = CASE WHEN p.seq_grows THEN %(seq)s::integer ELSE c.last_sequence_number END,
        updated_at = %(now)s,
        ended_at = CASE WHEN p.action = 'move' AND %(terminal)s THEN %(ended)s ELSE c.ended_at END,
        stage = CASE WHEN p.action = 'move' AND p.abandons THEN %(abandoned)s ELSE c.stage END,
        -- timing.recompute_durations: whole seconds, 0 when the end is before the start.
        wait_seconds = CASE WHEN p.action = 'move' AND %(terminal)s AND c.queued_at IS NOT NULL
            THEN GREATEST(0, FLOOR(EXTRACT(EPOCH FROM COALESCE(c.answered_at, %(ended)s) - c.queued_at)))::integer
            ELSE c.wait_seconds END,
        talk_seconds = CASE WHEN p.action = 'move' AND %(terminal)s AND c.answered_at IS NOT NULL
            THEN GREATEST(0, FLOOR(EXTRACT(EPOCH FROM %(ended)s - c.answered_at)))::integer
            ELSE c.talk_seconds END
    FROM plan AS p
    WHERE c.id = p.id AND (p.action = 'move' OR (p.action = 'ignore' AND p.seq_grows))
    RETURNING c.id, c.status, c.stage, c.last_sequence_number, c.ended_at, c.wait_seconds, c.talk_seconds
),
logged AS (
    INSERT INTO {log} (call_id, call_sid, event, dedupe_key, call_status, message, data, sequence_number,
                       created_at)
    SELECT p.id, %(log_sid)s, %(event)s, %(dedupe)s, %(status)s,
        CASE WHEN p.action = 'ignore' THEN 'Ignored: the call is already ' || p.status || '.'
             WHEN p.abandons THEN %(hung_up)s ELSE '' END,
        %(data)s::jsonb, %(seq)s::integer, %(now)s
    FROM plan AS p WHERE p.action IN ('move', 'ignore')
    UNION ALL
    SELECT NULL, %(log_sid)s, %(unknown_event)s, %(dedupe)s, %(status)s, %(unknown)s, %(data)s::jsonb,
        %(seq)s::integer, %(now)s
    WHERE NOT EXISTS (SELECT 1 FROM cur)
    ON CONFLICT DO NOTHING
)
SELECT p.action, p.abandons, p.id, p.call_sid, COALESCE(m.status, p.status), COALESCE(m.stage, p.stage),
    p.phone_line_id, p.agent_id, p.agent_call_sid, COALESCE(m.last_sequence_number, p.last_sequence_number),
    p.queued_at, p.answered_at, COALESCE(m.ended_at, p.ended_at), COALESCE(m.wait_seconds, p.wait_seconds),
    COALESCE(m.talk_seconds, p.talk_seconds)
FROM plan AS p LEFT JOIN moved AS m ON m.id = p.id
"""
# The columns the final SELECT returns after `action` and `abandons`, as Call attributes.
_STATE_ATTNAMES = (
    "id",
    "call_sid",
    "status",
    "stage",
    "phone_line_id",
    "agent_id",
    "agent_call_sid",
    "last_sequence_number",
    "queued_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
)


@functools.cache
def _status_event_sql() -> str:
    quote = connection.ops.quote_name
    return _STATUS_EVENT_SQL.format(call=quote(Call._meta.db_table), log=quote(CallLog._meta.db_table))


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
        "unknown": UNKNOWN_CALL,
    }
    with connection.cursor() as cursor:
        cursor.execute(_status_event_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return StatusOutcome(action=None, call=None)
    action, abandoned, *values = row
    call = Call.from_db(connection.alias, _STATE_ATTNAMES, values)
    return StatusOutcome(action=action, call=call, abandoned=abandoned)
