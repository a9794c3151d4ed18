"""`make bench-stats`: the statistics on 1,000,000 calls (issue 17; figures in bench/README.md).

Seeds its own PostgreSQL database (voice_stats_bench, dropped at the end unless --keep) in SQL with
generate_series: a contact centre of 50 agents in 5 departments on 4 lines, `--calls` calls spread over the last
`--days` days (80 % answered, 8 % abandoned, 3 % voicemail, 2 % after hours, 7 % outbound), a staffed session per
agent per day, missed rings on 5 % of calls, 200 callers waiting now. Then times, in this process through the
whole DRF view (authentication, query, JSON rendering; no network), several runs each:
- the 30-day summary by day, by agent, by hour;
- the live endpoint.
Prints median and max per endpoint and fails (exit 1) when a median is over the target.
"""

import argparse
import logging
import statistics
import sys
import time

from bench import common

DATABASE = "voice_stats_bench"
TARGET_SECONDS = 1.0
AGENTS, DEPARTMENTS, LINES, WAITING = 50, 5, 4, 200


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="the calls are spread over this many days")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database (then --reuse skips the seed)")
    parser.add_argument("--reuse", action="store_true", help="measure the kept database again, no seed")
    return parser.parse_args(argv)


def _call_insert() -> tuple[list, list, list]:
    """One INSERT ... SELECT over generate_series: every column of the call, the facts as the call package stores
    them. Columns the seed does not choose get their model default."""
    from django.db import connection

    from voiceconfig.models import Call

    chosen = {
        "call_sid": "'CA' || lpad(to_hex(i), 32, '0')",
        "from_number": "'+1415555' || lpad((i %% 10000)::text, 4, '0')",
        "to_number": "'+14155550100'",
        "direction": "CASE WHEN kind < 0.07 THEN 'outbound-api' ELSE 'inbound' END",
        "status": "'completed'",
        "stage": "CASE WHEN kind < 0.07 THEN 'connected' WHEN kind < 0.15 THEN 'abandoned' "
        "WHEN kind < 0.20 THEN 'voicemail' ELSE 'connected' END",
        "phone_line_id": "(SELECT min(id) FROM voiceconfig_phoneline) + (i %% %(lines)s)",
        "department_id": "CASE WHEN kind >= 0.07 "
        "THEN (SELECT min(id) FROM voiceconfig_department) + (i %% %(departments)s) END",
        "agent_id": "CASE WHEN kind < 0.07 OR kind >= 0.20 THEN (SELECT min(id) FROM voiceconfig_voiceagent) "
        "+ (i %% %(agents)s) END",
        "started_at": "started",
        "queued_at": "CASE WHEN kind >= 0.07 AND NOT (kind >= 0.18 AND kind < 0.20) THEN started END",
        "answered_at": "CASE WHEN kind < 0.07 OR kind >= 0.20 THEN started + make_interval(secs => wait) END",
        "ended_at": "started + make_interval(secs => wait + talk)",
        "wait_seconds": "CASE WHEN kind < 0.07 OR (kind >= 0.18 AND kind < 0.20) THEN 0 ELSE wait END",
        "talk_seconds": "CASE WHEN kind < 0.07 OR kind >= 0.20 THEN talk ELSE 0 END",
        "hold_seconds": "CASE WHEN kind >= 0.20 AND i %% 10 = 0 THEN talk / 5 ELSE 0 END",
        "voicemail": "kind >= 0.15 AND kind < 0.20",
        "offered": "kind >= 0.07 AND NOT (kind >= 0.18 AND kind < 0.20)",
        "abandoned": "kind >= 0.07 AND kind < 0.15",
        "after_hours": "kind >= 0.18 AND kind < 0.20",
        "transferred": "kind >= 0.20 AND i %% 25 = 0",
        "wrap_up_seconds": "CASE WHEN kind < 0.07 OR kind >= 0.20 THEN 10 ELSE 0 END",
        "created_at": "started",
        "updated_at": "started",
    }
    columns, values, params = [], [], []
    for field in Call._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in chosen:
            values.append(chosen[field.column])
        elif field.null:
            values.append("NULL")
        else:
            values.append("%s")
            params.append(field.get_default())
    return columns, values, params


def seed(calls: int, days: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from voiceconfig.models import Call, Department, DepartmentMember, PhoneLine, VoiceAgent, VoiceConfig

    started = time.perf_counter()
    with transaction.atomic():
        config = VoiceConfig.objects.create(name="Bench", time_zone="Europe/Paris")
        departments = [
            Department.objects.create(name=f"Queue {n}", time_zone="Europe/Paris") for n in range(DEPARTMENTS)
        ]
        for n in range(LINES):
            PhoneLine.objects.create(name=f"Line {n}", phone_number=f"+1415555010{n}", config=config)
        User = get_user_model()
        for n in range(AGENTS):
            user = User.objects.create(username=f"agent{n}")
            agent = VoiceAgent.objects.create(user=user, identity=f"agent{n}", display_name=f"Agent {n}")
            DepartmentMember.objects.create(department=departments[n % DEPARTMENTS], agent=agent)
        User.objects.create(username="boss", is_staff=True)
    columns, values, params = _call_insert()
    sql = f"""
        INSERT INTO voiceconfig_call ({", ".join(columns)})
        SELECT {", ".join(values)}
        FROM (
            SELECT i, random() AS kind,
                -- In time order, as a live system writes them (the index range of a month is then a month of
                -- the table, not random pages all over it); a few minutes of jitter.
                now() - make_interval(secs => (1 - i::float / %s) * %s * 86400 + random() * 300) AS started,
                (random() * random() * 120)::integer AS wait,
                (30 + random() * 400)::integer AS talk
            FROM generate_series(1, %s) AS i
        ) AS g
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.17)")
        text = sql.replace("%(lines)s", str(LINES)).replace("%(departments)s", str(DEPARTMENTS))
        text = text.replace("%(agents)s", str(AGENTS))
        # Seeding only: skip the per-row foreign-key triggers (every reference is made valid by construction).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(text, [*params, calls, days, calls])
        # A staffed session per agent per day (8 h), missed rings on 5 % of the answered calls, callers waiting.
        cursor.execute(
            """INSERT INTO voiceconfig_agentsession (agent_id, started_at, ended_at)
               SELECT a.id, d + interval '8 hours', d + interval '16 hours'
               FROM voiceconfig_voiceagent AS a, generate_series(
                   date_trunc('day', now()) - make_interval(days => %s), now(), interval '1 day') AS d""",
            [days],
        )
        cursor.execute(
            """INSERT INTO voiceconfig_missedring (agent_id, call_id, at)
               SELECT agent_id, id, started_at FROM voiceconfig_call WHERE agent_id IS NOT NULL AND id % 20 = 0"""
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE")
    now_rows = [
        Call(
            call_sid=f"CB{n:032x}",
            status="in-progress",
            stage="queued",
            started_at=time_now(n),
            queued_at=time_now(n),
            department=departments[n % DEPARTMENTS],
        )
        for n in range(WAITING)
    ]
    Call.objects.bulk_create(now_rows)
    print(f"seeded {calls:,} calls over {days} days in {time.perf_counter() - started:.1f} s", flush=True)


def time_now(n: int):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(seconds=n)


def measure(runs: int) -> dict:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.test import APIClient

    logging.disable(logging.INFO)  # one JSON log line per request would drown the figures
    client = APIClient(HTTP_HOST=common.HOST)
    client.force_authenticate(get_user_model().objects.get(username="boss"))
    today = timezone.now().date()
    month = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    cases = {
        "summary 30 days by day": ("/voiceconfig/stats/summary", {**month, "groupBy": "day"}),
        "summary 30 days by agent": ("/voiceconfig/stats/summary", {**month, "groupBy": "agent"}),
        "summary 30 days by hour": ("/voiceconfig/stats/summary", {**month, "groupBy": "hour"}),
        "summary 30 days by day, one department": ("/voiceconfig/stats/summary", {**month, "department": ""}),
        "live": ("/voiceconfig/stats/live", {}),
    }
    from voiceconfig.models import Department

    cases["summary 30 days by day, one department"][1]["department"] = Department.objects.order_by("id").first().pk
    results = {}
    for name, (url, params) in cases.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url, params, secure=True)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.content[:300]
        results[name] = (statistics.median(times), max(times), response.json()["total"])
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    env = common.environment(database=DATABASE, port=9, DJANGO_DEBUG="0")
    common.configure(env)
    if not args.reuse:
        common.recreate_database(DATABASE)
        seed(args.calls, args.days)
    try:
        results = measure(args.runs)
    finally:
        if not args.keep:
            common.drop_database(DATABASE)
    failed = False
    print(f"{'endpoint':42} {'median':>9} {'max':>9}  ({args.runs} runs)")
    for name, (median, worst, _total) in results.items():
        failed |= median > TARGET_SECONDS
        print(f"{name:42} {median * 1000:7.0f} ms {worst * 1000:7.0f} ms")
    by_day = results["summary 30 days by day"][2]
    print(f"30-day total: offered {by_day['offered']:,}, answered {by_day['answered']:,}, SL {by_day['serviceLevel']}")
    if failed:
        print(f"FAILED: a median is over the {TARGET_SECONDS:.0f} s target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
