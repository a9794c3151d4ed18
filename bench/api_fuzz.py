"""schemathesis against the running server's own OpenAPI (`/api/schema/`): `make api-fuzz`; `.ci/run` runs it.

Starts gunicorn on its own database (voice_apifuzz) with a staff user and two agents who each own calls and call
logs, then runs schemathesis (pinned in requirements-dev.txt) with a fixed seed and a bounded number of examples:

1. as agent A, as agent B, then as staff: 0 server errors, 0 status-code, response-schema or content-type
   conformance failures (the agents go first: staff may delete what the agents' runs read);
2. schemathesis' object_level_authorization check with agents A and B as peers: an object one agent reads must
   not be readable by the other;
3. a deterministic probe of the same rule, because random ids rarely hit the other agent's objects: agent A asks
   for every one of agent B's objects through every operation that takes an id, and must get 403 or 404.

The Twilio-facing URLs (tag "Twilio webhooks") are fuzzed signed, as Twilio signs them (bench/schemathesis_hooks.py),
so the fuzzer reaches their logic; a case without the X-Twilio-Signature header must get the documented 403. A
deterministic probe first checks both answers on every webhook: unsigned 403, signed 200.

Exits non-zero on any failure. See bench/README.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from twilio.request_validator import RequestValidator

from . import common
from .schemathesis_hooks import TOKEN_ENV

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CONFORMANCE_CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
IDENTITIES = ["agent-a", "agent-b", "staff"]
ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_TAG = "Twilio webhooks"
# Known conformance failures, each with the owner who fixes it and an expiry date after which it fails again.
BASELINE = Path(__file__).with_name("schemathesis-baseline.json")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=10, help="per operation and identity (default 10)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--port", type=int, default=8620)
    parser.add_argument("--database", default="voice_apifuzz")
    parser.add_argument("--phases", default="examples,coverage,fuzzing", help="schemathesis phases per identity")
    parser.add_argument(
        "--quick", action="store_true", help="CI: examples and fuzzing phases only (no coverage), 5 examples"
    )
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BASELINE,
        help="schemathesis baseline: known failures that do not fail the run (each with an owner and an expiry)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="every failure counts, known or not")
    parser.add_argument("--baseline-update", action="store_true", help="record this run's failures in the baseline")
    args = parser.parse_args(argv)
    if args.quick:
        args.phases, args.max_examples = "examples,fuzzing", 5
    return args


def seed() -> dict:
    """Staff, two agents with their own calls and logs; returns tokens and each agent's object ids."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from voiceconfig import services
    from voiceconfig.models import (
        Call,
        Callback,
        CallEvent,
        CallLog,
        CallStatus,
        Department,
        PhoneLine,
        Recording,
        RecordingState,
        VoiceConfig,
    )

    from .scenarios import new_call_sid

    users = get_user_model().objects
    staff = users.create_user(username="fuzz-staff", password="fuzz-pass-123", is_staff=True, is_superuser=True)
    config = VoiceConfig.objects.create(name="Fuzz")
    line = PhoneLine.objects.create(name="Fuzz", phone_number="+15005550199", config=config)
    department = Department.objects.create(name="Fuzz")
    identities = {
        "staff": {
            "token": str(AccessToken.for_user(staff)),
            "configs": [config.pk],
            "lines": [line.pk],
            "departments": [department.pk],
        }
    }
    for name in ("agent-a", "agent-b"):
        agent = services.agent_create(user=users.create_user(username=f"fuzz-{name}", password="fuzz-pass-123"))
        calls = []
        for status in (CallStatus.COMPLETED, CallStatus.IN_PROGRESS):
            call = Call.objects.create(
                call_sid=new_call_sid(0xF),
                from_number="+14155550123",
                to_number=line.phone_number,
                phone_line=line,
                agent=agent,
                status=status,
                started_at=timezone.now(),
            )
            calls.append(call)
        logs = [
            CallLog.objects.create(call=call, call_sid=call.call_sid, event=CallEvent.NOTE, message=f"{name} note")
            for call in calls
        ]
        recordings = [
            Recording.objects.create(
                call=calls[0],
                recording_sid="RE" + call.call_sid[2:],
                state=RecordingState.COMPLETED,
                duration_seconds=5,
            )
            for call in calls[:1]
        ]
        now = timezone.now()
        callbacks = [
            Callback.objects.create(
                call=calls[0], phone_line=line, customer_number="+14155550123", queued_at=now, next_attempt_at=now
            )
        ]
        identities[name] = {
            "recordings": [row.pk for row in recordings],
            "recording_sids": [row.recording_sid for row in recordings],
            "callbacks": [row.pk for row in callbacks],
            "token": str(AccessToken.for_user(agent.user)),
            "agent": agent.pk,
            "calls": [call.pk for call in calls],
            "call_sids": [call.call_sid for call in calls],
            "logs": [log.pk for log in logs],
        }
    return identities


def wfc_document(identities: dict) -> dict:
    """Web Fuzzing Commons auth document: each identity's fixed Authorization header."""
    return {
        "schemaVersion": "1.0.0",
        "auth": [
            {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {identities[name]['token']}"}]}
            for name in IDENTITIES
        ],
    }


def run_schemathesis(args: argparse.Namespace, server: common.Server, workdir: Path, *, label: str, extra: list[str]):
    config = workdir / f"{label}.toml"
    if not config.exists():
        config.write_text("")
    command = [
        SCHEMATHESIS,
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{server.url}/api/schema/",
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.max_examples),
        "--workers",
        "2",
        "--request-timeout",
        "15",
        "--generation-database",
        "none",
        # Ending a live call and streaming a recording must ask Twilio, which points at a closed port here: their
        # designed answer is a 502 that not_a_server_error would count. Their permissions are in the probe below;
        # their behaviour, 502 included, in tests/test_console_hangup.py, tests/test_recording.py and the contract
        # tests.
        "--exclude-path-regex",
        r"(:hangup|/media)$",
        "--report",
        "junit",
        "--report-junit-path",
        str(workdir / f"{label}.xml"),
        *extra,
    ]
    if (args.baseline.exists() and not args.no_baseline) or args.baseline_update:
        command += ["--baseline", str(args.baseline.resolve())]
        if args.baseline_update:
            command.append("--baseline-update")
    started = time.monotonic()
    # The hooks sign the webhook requests (bench/schemathesis_hooks.py); they import from the repository root.
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "bench.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    env[TOKEN_ENV] = common.AUTH_TOKEN
    completed = subprocess.run(command, capture_output=True, text=True, cwd=workdir, env=env)
    summary = [line for line in completed.stdout.splitlines() if line.strip()][-12:]
    print(f"-- schemathesis as {label}: exit {completed.returncode} in {time.monotonic() - started:.0f} s")
    if completed.returncode != 0:
        print(completed.stdout[-20000:])
        print(completed.stderr[-5000:])
    else:
        print("\n".join(summary))
    return completed.returncode == 0


def request(server: common.Server, method: str, path: str, token: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    answer = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(answer, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def probe_object_level_authorization(server: common.Server, identities: dict, schema: dict) -> list[str]:
    """Agent A asks for each of agent B's (and staff's) objects through every operation with a path id: 403 or 404."""
    intruder, owner, staff = identities["agent-a"], identities["agent-b"], identities["staff"]
    ids_by_resource = {
        # Staff-only resources: no agent may read or change any of them.
        "/voiceconfig/configs/{id}": staff["configs"],
        "/voiceconfig/phonelines/{id}": staff["lines"],
        "/voiceconfig/calls/{id}": owner["calls"],
        "/voiceconfig/calllogs/{id}": owner["logs"],
        "/voiceconfig/voiceagents/{id}": [owner["agent"]],
        "/voicetwilio/agent/{agentid}/status": [owner["agent"]],
        "/voicetwilio/agent/{agentid}/heartbeats": [owner["agent"]],
        "/voicetwilio/calls/{id}:onhold": owner["calls"] + owner["call_sids"],
        "/voicetwilio/calls/{id}:resume": owner["calls"] + owner["call_sids"],
        "/voicetwilio/calls/{id}:transfer": owner["calls"] + owner["call_sids"],
        "/voicetwilio/calls/{id}:hangup": owner["calls"] + owner["call_sids"],
        "/voicetwilio/calls/{id}:startrecording": owner["calls"] + owner["call_sids"],
        "/voicetwilio/calls/{id}:pauserecording": owner["calls"] + owner["call_sids"],
        "/voicetwilio/calls/{id}:resumerecording": owner["calls"] + owner["call_sids"],
        "/voicetwilio/calls/{id}:stoprecording": owner["calls"] + owner["call_sids"],
        # Supervising needs a permission agents do not have: refused for any call.
        "/voicetwilio/calls/{id}:monitor": owner["calls"] + owner["call_sids"],
        "/voiceconfig/recordings/{id}": owner["recordings"],
        "/voicetwilio/recordings/{id}/media": owner["recordings"] + owner["recording_sids"],
        "/voiceconfig/departments/{id}": staff["departments"],
        "/voiceconfig/callbacks/{id}": owner["callbacks"],
        "/voiceconfig/missedcalls/{id}": owner["calls"],
        "/voiceconfig/missedcalls/{id}/done": owner["calls"],
    }
    bodies = {
        "/voicetwilio/agent/{agentid}/status": {"available": True},
        "/voicetwilio/calls/{id}:transfer": {"type": "phonenumber", "to": "+14155550142"},
        "/voicetwilio/calls/{id}:monitor": {"mode": "listen"},
    }
    failures, probes = [], 0
    for path, operations in schema["paths"].items():
        if "{" not in path:
            continue
        if path not in ids_by_resource:
            failures.append(f"{path}: no probe for this operation with an id; add the owner's ids to the probe")
            continue
        for method in operations:
            if method not in ("get", "put", "patch", "delete", "post"):
                continue
            for value in ids_by_resource[path]:
                concrete = path.replace("{id}", str(value)).replace("{agentid}", str(value))
                body = bodies.get(path, {}) if method in ("put", "patch", "post") else None
                status = request(server, method.upper(), concrete, intruder["token"], body)
                probes += 1
                if status not in (403, 404):
                    failures.append(f"agent A got {status} for {method.upper()} {concrete} (agent B's)")
    print(f"-- object-level authorization probe: {probes} requests as agent A for agent B's objects")
    return failures


def webhook_operations(schema: dict) -> list[tuple[str, str, dict]]:
    """(path, method, operation) of every Twilio-facing URL in the schema."""
    return [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method == "post" and WEBHOOK_TAG in operation.get("tags", [])
    ]


def probe_webhooks(server: common.Server, schema: dict) -> list[str]:
    """Every webhook: unsigned, the documented 403; signed as Twilio signs, 200 TwiML."""
    failures = []
    form = {"CallSid": "CA" + "e" * 32, "From": "+14155550123", "To": "+15005550199", "CallStatus": "ringing"}
    body = urllib.parse.urlencode(form).encode()
    operations = webhook_operations(schema)
    for path, _method, _operation in operations:
        url = f"{server.url}{path}?callSid={form['CallSid']}"
        signature = RequestValidator(common.AUTH_TOKEN).compute_signature(url, form)
        for signed, expected in ((False, 403), (True, 200)):
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if signed:
                headers["X-Twilio-Signature"] = signature
            answer = urllib.request.Request(url, data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(answer, timeout=15) as response:
                    status, content_type = response.status, response.headers.get("Content-Type", "")
            except urllib.error.HTTPError as error:
                status, content_type = error.code, error.headers.get("Content-Type", "")
            if status != expected or not content_type.startswith("text/xml"):
                failures.append(f"{'signed' if signed else 'unsigned'} POST {path}: {status} {content_type}")
    print(f"-- webhook probe: {len(operations)} Twilio-facing URLs, each unsigned (403) and signed (200)")
    if not operations:
        failures.append("no Twilio-facing URL in the schema (tag 'Twilio webhooks')")
    return failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = common.environment(
        database=args.database,
        port=args.port,
        GUNICORN_WORKERS="2",
        JWT_ACCESS_MINUTES="120",
        API_THROTTLE_LOGIN="100000/min",
        DJANGO_REQUEST_LOG_LEVEL="WARNING",
    )
    common.configure(env)
    started = time.monotonic()
    print(f"database {args.database}: recreate and migrate ...", flush=True)
    common.recreate_database(args.database)
    identities = seed()
    failures: list[str] = []
    log_path = Path("/tmp") / f"{args.database}-gunicorn.log"
    try:
        with common.Server(env, port=args.port, log_path=log_path) as server, tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            with urllib.request.urlopen(f"{server.url}/api/schema/?format=json", timeout=15) as answer:
                schema = json.loads(answer.read())
            # Before any fuzzing, while every seeded object still exists.
            failures += probe_object_level_authorization(server, identities, schema)
            failures += probe_webhooks(server, schema)
            for name in IDENTITIES:
                header = f"Authorization: Bearer {identities[name]['token']}"
                if not run_schemathesis(
                    args,
                    server,
                    workdir,
                    label=name,
                    extra=["--checks", CONFORMANCE_CHECKS, "--phases", args.phases, "-H", header],
                ):
                    failures.append(f"schemathesis as {name} found failures")
            (workdir / "wfc-auth.json").write_text(json.dumps(wfc_document(identities)))
            (workdir / "peers.toml").write_text('[auth.wfc]\npath = "wfc-auth.json"\npeers = ["agent-a", "agent-b"]\n')
            if not run_schemathesis(
                args,
                server,
                workdir,
                label="peers",
                # The stateful phase follows the schema's links (a list, then each listed object), which is how
                # schemathesis learns which objects belong to whom.
                extra=[
                    "--checks",
                    "not_a_server_error,object_level_authorization",
                    "--phases",
                    f"{args.phases},stateful",
                ],
            ):
                failures.append("schemathesis object_level_authorization found failures")
    finally:
        if not args.keep_database:
            common.drop_database(args.database)
    print(f"done in {time.monotonic() - started:.0f} s (server log: {log_path})")
    for failure in failures:
        print(f"FAILED: {failure}")
    print("API FUZZ FAILED" if failures else "API FUZZ PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
