"""Scenario files (YAML or JSON) and the runner that plays one against the app.

A scenario names the line to ring, what the app's data should look like first (a config, a line, each
agent's status, set through the app's REST API exactly as an admin and the agents' consoles would), the
caller's steps, and how each agent and outside number behaves. The runner places the call on the emulator,
waits (in virtual time) until every leg has hung up and every callback has been delivered, then reads the
final call record, its CallLog timeline and every agent's state back from the app.

    name: Alice answers
    line: "+14155550100"
    setup:
      config: {name: "Scenario: simple", ivrOptions: [], wrapUpSeconds: 0}
      line: {name: "Scenario line", agents: [alice]}
      agents: {alice: available, bob: offline}
    caller:
      from: "+15005550006"
      steps:
        - {press: "2"}
        - {hangup: true, on: connected, after: 20}
    agents:
      alice: {answer: {after: 3}}
"""

import json
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .appclient import AppApiError, AppClient
from .people import Console, Directory, Person, Ring, RingPlan, Step
from .timeline import Entry
from .world import World

DEMO_LINE = "+14155550100"
DEMO_AGENT_PASSWORD = "voice-agent-demo"
DEMO_ADMIN = ("admin", "voice-admin-demo")


class ScenarioError(Exception):
    pass


@dataclass
class PersonSpec:
    name: str
    rings: list[Ring]
    password: str = DEMO_AGENT_PASSWORD
    patience_alone: float = 5.0
    # A supervisor's console steps on the caller's call (`monitor`), while not on it themselves.
    supervise: list[Step] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    description: str
    line: str
    caller_from: str
    caller_name: str
    caller_steps: list[Step]
    caller_patience: float
    agents: dict[str, PersonSpec]
    numbers: dict[str, PersonSpec]
    setup: dict[str, Any]
    max_seconds: float
    path: str = ""
    # An agent's softphone call instead of a caller dialling the line (issue 19's click-to-dial).
    dial: "DialSpec | None" = None
    # What happens once the first call is over: agents' statuses, then a scheduler's runs of a command.
    then: dict[str, Any] = field(default_factory=dict)


@dataclass
class DialSpec:
    """`dial: {agent: alice, to: "+14155550142", line: "+14155550117", checkFirst: true, steps: [...]}`.

    As the console does: ask `POST /voicetwilio/dial/check` first (a refusal is shown and nothing is dialled), then
    the softphone calls out with the custom parameters To and line. `checkFirst: false` is a softphone that dials
    without asking (the voice request's own guard must refuse). `steps` are the agent's on that call."""

    agent: str
    to: str
    line: str = ""
    check_first: bool = True
    steps: list[Step] = field(default_factory=list)

    @classmethod
    def parse(cls, spec: Any) -> "DialSpec":
        if not isinstance(spec, dict) or not spec.get("agent") or "to" not in spec:
            raise ValueError(f"dial needs an agent and a number to call (to): {spec!r}")
        return cls(
            agent=str(spec["agent"]),
            to=str(spec["to"]),
            line=str(spec.get("line") or ""),
            check_first=bool(spec.get("checkFirst", True)),
            steps=[Step.parse(step) for step in spec.get("steps") or []],
        )


def _template_values() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {
        "today": today.isoformat(),
        "yesterday": (today - timedelta(days=1)).isoformat(),
        "tomorrow": (today + timedelta(days=1)).isoformat(),
    }


def _substitute(value: Any, values: dict[str, str]) -> Any:
    """`${today}` (UTC) and friends in any string, so a scenario can say "closed today"."""
    if isinstance(value, str):
        return string.Template(value).safe_substitute(values)
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    return value


def _rings(spec: dict, default_answer: Any) -> list[Ring]:
    if "rings" in spec:
        return [
            Ring(RingPlan.parse(ring.get("answer", default_answer)), [Step.parse(s) for s in ring.get("steps", [])])
            for ring in spec["rings"]
        ]
    return [Ring(RingPlan.parse(spec.get("answer", default_answer)), [Step.parse(s) for s in spec.get("steps", [])])]


def parse(data: dict, *, path: str = "") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a mapping with at least a caller")
    data = _substitute(data, _template_values())
    try:
        caller = data.get("caller") or {}
        agents = {
            str(username): PersonSpec(
                name=str(username),
                rings=_rings(spec or {}, {"after": 3}),
                password=(spec or {}).get("password", DEMO_AGENT_PASSWORD),
                patience_alone=float((spec or {}).get("patienceAlone", 3)),
                supervise=[Step.parse(step) for step in (spec or {}).get("supervise", [])],
            )
            for username, spec in (data.get("agents") or {}).items()
        }
        numbers = {
            str(number): PersonSpec(
                name=str(spec.get("name", number)) if spec else str(number),
                rings=_rings(spec or {}, {"after": 3}),
                patience_alone=float((spec or {}).get("patienceAlone", 5)),
            )
            for number, spec in (data.get("numbers") or {}).items()
        }
        return Scenario(
            name=str(data.get("name") or Path(path).stem or "scenario"),
            description=str(data.get("description") or ""),
            line=str(data.get("line") or DEMO_LINE),
            caller_from=str(caller.get("from") or "+15005550006"),
            caller_name=str(caller.get("name") or "caller"),
            caller_steps=[Step.parse(step) for step in caller.get("steps") or []],
            caller_patience=float(caller.get("patienceAlone", 30)),
            agents=agents,
            numbers=numbers,
            setup=dict(data.get("setup") or {}),
            max_seconds=float(data.get("maxSeconds", 900)),
            path=path,
            dial=DialSpec.parse(data["dial"]) if data.get("dial") else None,
            then=_then(data.get("then")),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ScenarioError(f"{path or 'scenario'}: {exc}") from exc


THEN_KEYS = {"agents", "scheduler"}


def _then(spec: Any) -> dict[str, Any]:
    """`then: {agents: {alice: available}, scheduler: {command: run_due_callbacks, runs: 2, pause: 11}}`."""
    if not spec:
        return {}
    if not isinstance(spec, dict) or set(spec) - THEN_KEYS:
        raise ValueError(f"then: a mapping with {sorted(THEN_KEYS)}: {spec!r}")
    scheduler = spec.get("scheduler")
    if scheduler is not None:
        if not isinstance(scheduler, dict) or not scheduler.get("command"):
            raise ValueError(f"then.scheduler needs a command: {scheduler!r}")
        if int(scheduler.get("runs", 1)) < 1 or float(scheduler.get("pause", 0)) < 0:
            raise ValueError(f"then.scheduler: runs >= 1 and pause >= 0: {scheduler!r}")
    return dict(spec)


def load(path: str | Path) -> Scenario:
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        import yaml  # a development dependency (requirements-dev.txt); JSON scenarios need nothing

        data = yaml.safe_load(text)
    return parse(data, path=str(path))


@dataclass
class Result:
    scenario: Scenario
    call_sid: str
    entries: list[Entry]
    call: dict | None = None
    logs: list[dict] = field(default_factory=list)
    agents: dict[str, dict] = field(default_factory=dict)
    finished: bool = True
    callbacks: list[dict] = field(default_factory=list)  # the call's queued callbacks (issue 19)

    @property
    def errors(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.kind == "error"]

    def heard(self, who: str = "caller") -> list[str]:
        return [e.text.removeprefix("hears ") for e in self.entries if e.kind == "hear" and e.who == who]

    def webhooks(self, path: str = "") -> list[Entry]:
        return [e for e in self.entries if e.who == "webhook" and path in e.data.get("url", "")]

    def events(self) -> list[str]:
        return [log["event"] for log in self.logs]

    def agent_status(self, username: str) -> str:
        return self.agents[username]["status"]

    def summary(self) -> str:
        lines = [f"== {self.scenario.name}: call {self.call_sid}"]
        if not self.finished:
            lines.append(f"!! the call was still going after {self.scenario.max_seconds:g} s and was hung up")
        if self.call:
            call = self.call
            agent = next((name for name, row in self.agents.items() if row.get("id") == call.get("agent")), None)
            lines.append(
                f"call record: status={call.get('status')} agent={agent or call.get('agent')} "
                f"ivrChoice={call.get('ivrChoice') or '-'} wait={call.get('waitSeconds')}s "
                f"talk={call.get('talkSeconds')}s hold={call.get('holdSeconds')}s voicemail={call.get('voicemail')}"
                + (f" recording={call.get('recordingSid')}" if call.get("recordingSid") else "")
            )
        else:
            lines.append("call record: none (the app never stored this call)")
        lines.append("call log:")
        for log in self.logs:
            lines.append(f"  {log.get('event', ''):<12} {log.get('callStatus') or '':<12} {log.get('message', '')}")
        lines.append("agents: " + ", ".join(f"{name}={row.get('status')}" for name, row in sorted(self.agents.items())))
        if self.errors:
            lines.append(f"errors ({len(self.errors)}):")
            lines.extend(f"  {entry.text}" for entry in self.errors)
        return "\n".join(lines)


class Runner:
    """Plays scenarios on an emulator (its World) against the app at `app_url`."""

    def __init__(
        self,
        world: World,
        *,
        app_url: str,
        admin: tuple[str, str] = DEMO_ADMIN,
        run_command: Callable[[str], str] | None = None,
    ):
        self.world = world
        self.app = AppClient(app_url)
        self.admin = admin
        self._admin_token = ""
        # Runs one of the app's management commands against the app's database (what a scheduler would run,
        # `then.scheduler`), returning its output.
        self.run_command = run_command

    # --- the app, as admin ------------------------------------------------------------------
    def admin_token(self) -> str:
        if not self._admin_token:
            self._admin_token = self.app.login(*self.admin)
        return self._admin_token

    def _admin(self, method: str, path: str, body: Any = None, params: dict | None = None):
        reply = self.app.request(method, path, token=self.admin_token(), json=body, params=params)
        if not reply.ok:
            raise ScenarioError(f"setup: {method} {path} answered {reply.status}: {reply.data}")
        return reply.data

    def agents_by_username(self) -> dict[str, dict]:
        rows = self.app.get_all("/voiceconfig/voiceagents", token=self.admin_token())
        return {row["username"]: row for row in rows}

    def apply_setup(self, scenario: Scenario, consoles: dict[str, Console]) -> None:
        setup = scenario.setup
        agents = self.agents_by_username()
        config_id = None
        if setup.get("config"):
            config = dict(setup["config"])
            name = config.get("name") or f"Scenario: {scenario.name}"
            config["name"] = name
            found = [
                row
                for row in self.app.get_all("/voiceconfig/configs", token=self.admin_token(), params={"name": name})
                if row["name"] == name
            ]
            if found:
                config_id = self._admin("PATCH", f"/voiceconfig/configs/{found[0]['id']}", config)["id"]
            else:
                config_id = self._admin("POST", "/voiceconfig/configs", config)["id"]
        department_id = self._department(setup["department"], agents) if setup.get("department") else None
        if setup.get("line") is not None or config_id is not None or department_id is not None:
            line = dict(setup.get("line") or {})
            if department_id is not None:
                line["defaultDepartment"] = department_id
            if "agents" in line:
                missing = [name for name in line["agents"] if name not in agents]
                if missing:
                    raise ScenarioError(f"setup: no voice agents named {missing}")
                line["agents"] = [agents[name]["id"] for name in line["agents"]]
            line.setdefault("phoneNumber", scenario.line)
            line.setdefault("name", f"Scenario line {scenario.line}")
            if config_id is not None:
                line["config"] = config_id
            found = self.app.get_all(
                "/voiceconfig/phonelines", token=self.admin_token(), params={"phoneNumber": scenario.line}
            )
            if found:
                self._admin("PATCH", f"/voiceconfig/phonelines/{found[0]['id']}", line)
            else:
                if "config" not in line:
                    raise ScenarioError(f"setup: line {scenario.line} does not exist and no config was given")
                self._admin("POST", "/voiceconfig/phonelines", line)
        self.set_statuses(setup.get("agents") or {}, agents, consoles)

    def set_statuses(self, statuses: dict[str, str], agents: dict[str, dict], consoles: dict[str, Console]) -> None:
        for username, status in statuses.items():
            if username not in agents:
                raise ScenarioError(f"setup: no voice agent named {username!r}")
            console = consoles.get(username) or Console(self.app, username=username, password=DEMO_AGENT_PASSWORD)
            if status != "offline":
                # An open console sends heartbeats (the only proof of presence), as the real console does at login.
                console.post(f"/voicetwilio/agent/{agents[username]['id']}/heartbeats", {})
            reply = console.post(f"/voicetwilio/agent/{agents[username]['id']}/status", {"status": status})
            if not reply.ok:
                raise ScenarioError(f"setup: {username} could not become {status}: {reply.status} {reply.data}")
            self.world.timeline.add(username, "console", f"console: status {status} -> {reply.status}")

    def _department(self, spec: dict, agents: dict[str, dict]) -> int:
        """Create or update a department by name (issue 16); members name agents by username, and an
        `overflowDepartment` may be a department written the same way."""
        department = dict(spec)
        if isinstance(department.get("overflowDepartment"), dict):
            department["overflowDepartment"] = self._department(department["overflowDepartment"], agents)
        members = []
        for member in department.get("members") or []:
            member = {"agent": member} if isinstance(member, str) else dict(member)
            if member["agent"] not in agents:
                raise ScenarioError(f"setup: no voice agent named {member['agent']!r}")
            members.append({**member, "agent": agents[member["agent"]]["id"]})
        department["members"] = members
        name = department.get("name") or "Scenario department"
        found = [
            row
            for row in self.app.get_all("/voiceconfig/departments", token=self.admin_token(), params={"name": name})
            if row["name"] == name
        ]
        if found:
            return self._admin("PATCH", f"/voiceconfig/departments/{found[0]['id']}", department)["id"]
        return self._admin("POST", "/voiceconfig/departments", department)["id"]

    # --- playing ----------------------------------------------------------------------------
    def people(self, scenario: Scenario) -> tuple[Person, dict[str, Console]]:
        consoles = {
            name: Console(self.app, username=name, password=spec.password) for name, spec in scenario.agents.items()
        }
        people: dict[str, Person] = {}
        for name, spec in scenario.agents.items():
            people[f"client:{name}"] = Person(
                name, rings=spec.rings, console=consoles[name], patience_alone=spec.patience_alone
            )
        for number, spec in scenario.numbers.items():
            people[number] = Person(spec.name, rings=spec.rings, patience_alone=spec.patience_alone)
        self.world.directory = Directory(people, agent_answer_after=None)
        self.supervisors = [
            (people[f"client:{name}"], spec.supervise) for name, spec in scenario.agents.items() if spec.supervise
        ]
        if scenario.dial is not None:
            if f"client:{scenario.dial.agent}" not in people:
                raise ScenarioError(f"dial: {scenario.dial.agent} must be one of the scenario's agents")
            people[f"client:{scenario.dial.agent}"].steps = scenario.dial.steps
        caller = Person(scenario.caller_name, steps=scenario.caller_steps, patience_alone=scenario.caller_patience)
        return caller, consoles

    def place_dial(self, dial: DialSpec, consoles: dict[str, Console]):
        """The agent dials from the console: the guard asked first (as dialer.js does), then the softphone."""
        world = self.world
        params = {"To": dial.to}
        if dial.line:
            found = self.app.get_all(
                "/voiceconfig/phonelines", token=self.admin_token(), params={"phoneNumber": dial.line}
            )
            if not found:
                raise ScenarioError(f"dial: no line {dial.line}")
            params["line"] = str(found[0]["id"])
        if dial.check_first:
            body = {"to": dial.to, "line": int(params["line"]) if "line" in params else None}
            reply = consoles[dial.agent].post("/voicetwilio/dial/check", body)
            if not reply.ok:
                data = reply.data if isinstance(reply.data, dict) else {}
                if reply.status != 400 or data.get("error") != "dial_refused":
                    raise ScenarioError(f"dial: the console's check answered {reply.status}: {reply.data}")
                # What the agent reads in the console; nothing is dialled.
                world.timeline.add(dial.agent, "console", f"console: dial refused: {data.get('message')}")
                return None
            world.timeline.add(dial.agent, "console", f"console: POST /voicetwilio/dial/check -> {reply.status}")
        party = world.directory.party_for(f"client:{dial.agent}")
        return world.place_client_call(identity=dial.agent, params=params, party=party)

    def then(self, spec: dict[str, Any], first_call, consoles: dict[str, Console]) -> None:
        """Once the first call is over and nothing is in flight: agents' statuses, then the scheduler's runs."""
        world = self.world
        world.clock.wait(lambda: first_call.ended and world.settled())
        try:
            self.set_statuses(spec.get("agents") or {}, self.agents_by_username(), consoles)
            scheduler = spec.get("scheduler") or {}
            for run in range(int(scheduler.get("runs", 1)) if scheduler else 0):
                world.clock.wait(world.settled)
                if run and scheduler.get("pause"):
                    # The app's clock is real (a callback's retry delay): let real time pass, with nothing in flight.
                    time.sleep(float(scheduler["pause"]))
                self.run_scheduled(str(scheduler["command"]))
        except (ScenarioError, AppApiError) as exc:
            world.timeline.add("scenario", "error", f"then: {exc}")

    def run_scheduled(self, command: str) -> None:
        if self.run_command is None:
            raise ScenarioError(f"this runner cannot run manage.py {command} (no run_command)")
        output = self.run_command(command).strip()
        self.world.timeline.add("scheduler", "note", f"manage.py {command}: {output}")

    def quiet(self) -> bool:
        return self.world.idle()

    def run(self, scenario: Scenario) -> Result:
        world = self.world
        clock = world.clock
        world.timeline.clear()
        caller, consoles = self.people(scenario)
        with clock.running():
            world.timeline.add(
                "scenario", "note", f"{scenario.name}" + (f": {scenario.description}" if scenario.description else "")
            )
            self.apply_setup(scenario, consoles)
            if scenario.dial is not None:
                call = self.place_dial(scenario.dial, consoles)
            else:
                call = world.place_inbound_call(from_=scenario.caller_from, to=scenario.line, party=caller)
            if call is not None and scenario.then:
                world.spawn(lambda: self.then(scenario.then, call, consoles), name="scenario-then")
            for supervisor, steps in self.supervisors:
                # Acting on the caller's call from their console, not on a call of their own: no lingering.
                world.spawn(
                    lambda who=supervisor, steps=steps: who.follow(world, call, steps, linger=False),
                    name=f"{supervisor.name}-supervises",
                )
            finished = clock.wait(self.quiet, scenario.max_seconds)
            if not finished:
                world.timeline.add("scenario", "error", f"still going after {scenario.max_seconds:g} s: hanging up")
                with world.lock:
                    for live in world.calls.values():
                        if not live.ended and live.hangup is None:
                            live.hangup = "emulator-stopped"
                    world.changed()
                clock.wait(self.quiet, 120)
        call_sid = self.customer_leg(call) if scenario.dial is not None else call.sid
        result = Result(scenario=scenario, call_sid=call_sid, entries=list(world.timeline.entries), finished=finished)
        self.collect(result)
        return result

    def customer_leg(self, agent_leg) -> str:
        """A click-to-dial call is stored under the customer's leg (the party hold and transfer act on), once dialled;
        a refused one under the agent's leg; one the console refused has no call at all."""
        if agent_leg is None:
            return ""
        with self.world.lock:
            dialled = [
                c
                for c in self.world.calls.values()
                if c.direction == "outbound-api" and c.to == agent_leg.to and c.created_at >= agent_leg.created_at
            ]
        return dialled[0].sid if dialled else agent_leg.sid

    def collect(self, result: Result) -> None:
        try:
            token = self.admin_token()
            calls = (
                self.app.get_all("/voiceconfig/calls", token=token, params={"callSid": result.call_sid})
                if result.call_sid
                else []
            )
            result.call = calls[0] if calls else None
            if result.call:
                result.logs = self.app.get_all("/voiceconfig/calllogs", token=token, params={"call": result.call["id"]})
                result.callbacks = [
                    row
                    for row in self.app.get_all("/voiceconfig/callbacks", token=token)
                    if row["call"] == result.call["id"]
                ]
            result.agents = self.agents_by_username()
        except AppApiError as exc:
            result.entries.append(Entry(self.world.now(), "scenario", "error", f"reading the results failed: {exc}"))
