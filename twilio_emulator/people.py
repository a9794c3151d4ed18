"""Scripted people on the lines: a caller who presses keys or says words, agents who answer (or not), hold,
resume and transfer through the app's console API, and outside numbers a call is forwarded to.

A person follows steps. Each step waits for a moment on the line (`on`: the menu is listening, the beep of a
voicemail, the hold music, being connected...), then `after` more seconds, then acts. Steps without a moment
follow the previous one. When the steps run out the person stays on the line, and hangs up after
`patience_alone` seconds of silence alone in a conference (as anyone would).
"""

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .model import Call, PartyInput
from .util import quote_text

if TYPE_CHECKING:
    from .appclient import AppClient
    from .world import World

logger = logging.getLogger(__name__)


@dataclass
class RingPlan:
    """How a person reacts to their phone ringing: answer after some seconds, decline (busy), or never."""

    answer_after: float | None = None
    busy_after: float | None = None

    @classmethod
    def parse(cls, spec: Any) -> "RingPlan":
        """`{after: 3}`, `3`, `never`, `busy`, `{busy: 2}`."""
        if spec in (None, "never", False):
            return cls()
        if spec == "busy":
            return cls(busy_after=1.0)
        if isinstance(spec, int | float):
            return cls(answer_after=float(spec))
        if isinstance(spec, dict):
            if "busy" in spec:
                return cls(busy_after=float(spec["busy"]))
            return cls(answer_after=float(spec.get("after", 0)))
        raise ValueError(f"cannot read an answer plan from {spec!r}")

    def describe(self) -> str:
        if self.busy_after is not None:
            return f"declines after {self.busy_after:g} s"
        if self.answer_after is not None:
            return f"answers after {self.answer_after:g} s"
        return "never answers"


# The moments a step can wait for, and the activity each corresponds to.
MOMENTS = {"gather", "prompt", "record", "waiting", "connected", "alone", "held", "ringback", "now", "start"}
ACTIONS = {
    "press",
    "say",
    "message",
    "hangup",
    "wait",
    "pause",  # wall-clock seconds while the emulator's clock stands still: the app's own clock moves on
    "hold",
    "resume",
    "transfer",
    "status",
    "heartbeat",
    "record",  # start, pause, resume or stop the call's recording
    "monitor",  # a supervisor: listen, whisper, barge or off
}
# A pause holds the whole emulator still in real time: kept short, it is for the app's wall-clock rules
# (levels widening, overflow) that virtual time never reaches.
MAX_PAUSE_SECONDS = 30.0
DEFAULT_MOMENT = {"press": "gather", "say": "gather", "message": "record"}


@dataclass
class Step:
    action: str
    value: Any = None
    on: str = "now"
    after: float = 0.0
    with_: str = ""  # with `on: connected`: only once talking with this person

    @classmethod
    def parse(cls, raw: Any) -> "Step":
        """`{press: "2"}`, `{say: "support"}`, `{message: 8}`, `{hangup: true, on: connected, after: 20}`,
        `{hold: true, after: 5}`, `{transfer: {type: client, to: bob, mode: warm}}`, `hangup`."""
        if isinstance(raw, str):
            raw = {raw: True}
        if not isinstance(raw, dict):
            raise ValueError(f"a step is a mapping such as {{press: '1'}}, not {raw!r}")
        # YAML 1.1 reads a bare `on:` key as the boolean true; `when:` says the same without the surprise.
        raw = {("on" if key is True or key == "when" else key): value for key, value in raw.items()}
        actions = [key for key in raw if key in ACTIONS]
        if len(actions) != 1:
            raise ValueError(f"a step needs exactly one action of {sorted(ACTIONS)}: {raw!r}")
        unknown = set(raw) - ACTIONS - {"on", "after", "with"}
        if unknown:
            raise ValueError(f"unknown step keys {sorted(unknown)} in {raw!r}")
        action = actions[0]
        on = str(raw.get("on", DEFAULT_MOMENT.get(action, "now")))
        if on not in MOMENTS:
            raise ValueError(f"unknown moment {on!r}: one of {sorted(MOMENTS)}")
        value = raw[action]
        if action == "wait":
            return cls(action="wait", on=on, after=float(raw.get("after", value if value is not True else 0)))
        if action == "pause":
            seconds = float(value)
            if not 0 < seconds <= MAX_PAUSE_SECONDS:
                raise ValueError(f"pause takes 0 < seconds <= {MAX_PAUSE_SECONDS:g}: {raw!r}")
            return cls(action="pause", value=seconds, on=on, after=float(raw.get("after", 0)))
        return cls(action=action, value=value, on=on, after=float(raw.get("after", 0)), with_=str(raw.get("with", "")))


class Party:
    """Someone at the end of a line. The base person lets it ring and never answers."""

    name = "someone"

    def ring(self, call: Call) -> RingPlan:
        return RingPlan()

    def dialing(self, world: "World", call: Call) -> None:
        """This person placed `call` (a caller)."""

    def connected(self, world: "World", call: Call) -> None:
        """This person answered `call`."""


@dataclass
class Ring:
    """What a person does with one ring of their phone: how they answer, then their steps on that call."""

    plan: RingPlan
    steps: list[Step] = field(default_factory=list)


class Console:
    """An agent's console and softphone: the app's REST API with the agent's own JWT."""

    def __init__(self, app: "AppClient", *, username: str, password: str):
        self.app = app
        self.username = username
        self.password = password
        self._token = ""
        self._agent_id: int | None = None

    def token(self) -> str:
        if not self._token:
            self._token = self.app.login(self.username, self.password)
        return self._token

    def agent_id(self) -> int:
        if self._agent_id is None:
            rows = self.app.get_all("/voiceconfig/voiceagents", token=self.token())
            mine = [row for row in rows if row.get("username") == self.username] or rows
            if not mine:
                raise RuntimeError(f"{self.username} is not a voice agent")
            self._agent_id = int(mine[0]["id"])
        return self._agent_id

    def post(self, path: str, body: dict | None = None):
        reply = self.app.request("POST", path, token=self.token(), json=body or {})
        if reply.status == 401:  # the cached token expired: log in again, once
            self.app.forget(self.username, self.password)
            self._token = ""
            reply = self.app.request("POST", path, token=self.token(), json=body or {})
        return reply


class Person(Party):
    def __init__(
        self,
        name: str,
        *,
        rings: list[Ring] | None = None,
        steps: list[Step] | None = None,
        console: Console | None = None,
        patience_alone: float = 5.0,
        hang_up_after: float | None = None,
    ):
        self.name = name
        # A caller's limit: hang up this many clock seconds after dialling, wherever the call is (None: never).
        self.hang_up_after = hang_up_after
        self.rings = rings or [Ring(RingPlan(answer_after=3.0))]
        self.steps = steps or []  # a caller's steps (from dialling)
        self.console = console
        self.patience_alone = patience_alone
        self._rung = 0
        self._steps_for: dict[str, list[Step]] = {}

    # --- Party ------------------------------------------------------------------------------
    def ring(self, call: Call) -> RingPlan:
        ring = self.rings[min(self._rung, len(self.rings) - 1)]
        self._rung += 1
        self._steps_for[call.sid] = ring.steps
        return ring.plan

    def dialing(self, world: "World", call: Call) -> None:
        world.spawn(lambda: self.follow(world, call, self.steps), name=f"{self.name}-steps")
        if self.hang_up_after is not None:
            world.spawn(lambda: self.hang_up_in_time(world, call), name=f"{self.name}-limit")

    def hang_up_in_time(self, world: "World", call: Call) -> None:
        """Give up after `hang_up_after` seconds on the line, so a forgotten demo call never stays live for good."""
        if world.clock.wait(lambda: call.ended, self.hang_up_after):
            return
        world.timeline.add(self.name, "act", f"has been on the line for {self.hang_up_after:g} s")
        self.hang_up(world, call)

    def connected(self, world: "World", call: Call) -> None:
        steps = self._steps_for.get(call.sid, [])
        world.spawn(lambda: self.follow(world, call, steps), name=f"{self.name}-steps")

    # --- following the steps ----------------------------------------------------------------
    def follow(self, world: "World", call: Call, steps: list[Step], *, linger: bool = True) -> None:
        consumed = -1
        for step in steps:
            if step.on not in ("now", "start"):
                matched = world.clock.wait(
                    lambda step=step, seen=consumed: call.ended or self._at(call, step.on, seen, step.with_)
                )
                if call.ended or not matched:
                    return
                consumed = call.activity.serial
            if step.after and world.clock.wait(lambda: call.ended, step.after):
                return
            if call.ended:
                return
            try:
                self.act(world, call, step)
            except Exception as exc:  # a console failure is part of the story, not a crash
                logger.exception("step %s of %s failed", step, self.name)
                world.timeline.add(self.name, "error", f"could not {step.action}: {exc}")
        if linger:
            self.linger(world, call)

    @staticmethod
    def _at(call: Call, moment: str, consumed: int, with_: str = "") -> bool:
        activity = call.activity
        if activity.serial <= consumed:
            return False
        kind, detail = activity.kind, activity.detail
        if moment == "gather":
            return kind == "gather" and detail.get("phase") == "listening"
        if moment == "prompt":
            return kind == "gather"
        if moment == "connected":
            others = [other.split(" (")[0] for other in detail.get("others", [])]
            return kind == "connected" and bool(others) and (not with_ or with_ in others)
        if moment == "alone":
            return kind == "connected" and not detail.get("others")
        return kind == moment

    def linger(self, world: "World", call: Call) -> None:
        """Stay on the line; hang up after a while alone in a silent conference."""
        while not call.ended:
            world.clock.wait(lambda: call.ended or self._at(call, "alone", -1))
            if call.ended:
                return
            serial = call.activity.serial
            if not world.clock.wait(
                lambda serial=serial: call.ended or call.activity.serial != serial, self.patience_alone
            ):
                world.timeline.add(self.name, "act", f"has been alone for {self.patience_alone:g} s")
                self.hang_up(world, call)
                return

    def hang_up(self, world: "World", call: Call) -> None:
        with world.lock:
            if not call.ended and call.hangup is None:
                world.timeline.add(self.name, "act", "hangs up", call=call.sid)
                call.hangup = "party"
                world.changed()

    def act(self, world: "World", call: Call, step: Step) -> None:
        timeline = world.timeline
        if step.action == "wait":
            return
        if step.action == "pause":
            timeline.add(self.name, "act", f"pauses {step.value:g} s of real time (the emulator's clock stands still)")
            # Not clock.sleep: this thread stays "running", so virtual time cannot move while the app's does.
            time.sleep(step.value)
            return
        if step.action == "hangup":
            self.hang_up(world, call)
            return
        if step.action in ("press", "say", "message"):
            if step.action == "press":
                given = PartyInput("dtmf", str(step.value))
                timeline.add(self.name, "act", f"presses {given.value}")
            elif step.action == "say":
                given = PartyInput("speech", str(step.value))
                timeline.add(self.name, "act", f"says {quote_text(given.value)}")
            else:
                spec = step.value if isinstance(step.value, dict) else {"seconds": step.value}
                given = PartyInput(
                    "message", seconds=float(spec.get("seconds", 5)), end=str(spec.get("then", "hangup"))
                )
            with world.lock:
                call.input = given
                world.changed()
            return
        self.console_action(world, call, step)

    def console_action(self, world: "World", call: Call, step: Step) -> None:
        if self.console is None:
            raise RuntimeError(f"{self.name} has no console to {step.action} with")
        customer = self.customer_call_sid(world, call)
        if step.action == "hold":
            path, body = f"/voicetwilio/calls/{customer}:onhold", {"callSid": customer}
        elif step.action == "resume":
            path, body = f"/voicetwilio/calls/{customer}:resume", {"callSid": customer}
        elif step.action == "transfer":
            spec = dict(step.value) if isinstance(step.value, dict) else {"to": step.value}
            spec.setdefault("type", "phonenumber" if str(spec.get("to", "")).startswith("+") else "client")
            path, body = f"/voicetwilio/calls/{customer}:transfer", {"callSid": customer, **spec}
        elif step.action == "record":
            path, body = f"/voicetwilio/calls/{customer}:{step.value}recording", {"callSid": customer}
        elif step.action == "monitor":
            path, body = f"/voicetwilio/calls/{customer}:monitor", {"callSid": customer, "mode": step.value}
        elif step.action == "status":
            value = step.value if isinstance(step.value, dict) else {"status": step.value}
            path, body = f"/voicetwilio/agent/{self.console.agent_id()}/status", value
        else:  # heartbeat
            path, body = f"/voicetwilio/agent/{self.console.agent_id()}/heartbeats", {}
        reply = self.console.post(path, body)
        summary = ""
        if not reply.ok and isinstance(reply.data, dict):
            summary = f" {reply.data.get('error', '')}: {reply.data.get('message', '')}"
        world.timeline.add(
            self.name,
            "console" if reply.ok else "error",
            f"console: POST {path} {body if step.action in ('transfer', 'status', 'monitor') else ''}".rstrip()
            + f" -> {reply.status}{summary}",
            status=reply.status,
            detail=reply.data,
        )

    @staticmethod
    def customer_call_sid(world: "World", call: Call) -> str:
        """The caller's CallSid, as the console knows it: the inbound leg in the agent's conference, or the customer
        the agent dialled."""
        with world.lock:
            if call.conference_sid and call.conference_sid in world.conferences:
                conference = world.conferences[call.conference_sid]
                others = [world.calls.get(p.call_sid) for p in conference.present() if p.call_sid != call.sid]
                for other in others:
                    if other is not None and other.direction == "inbound" and not other.from_.startswith("client:"):
                        return other.sid
                # A call the agent placed (click-to-dial, a callback): the customer is the leg labelled "caller".
                for participant in conference.present():
                    if participant.label == "caller" and participant.call_sid != call.sid:
                        return participant.call_sid
            if call.parent_sid:
                return call.parent_sid
            inbound = [c for c in world.calls.values() if c.direction == "inbound" and not c.ended]
            return inbound[0].sid if len(inbound) == 1 else call.sid


class Directory:
    """Who answers which address: scripted people first, then defaults for any agent or outside number."""

    def __init__(
        self,
        people: dict[str, Party] | None = None,
        *,
        agent_answer_after: float | None = 3.0,
        number_answer_after: float | None = 3.0,
    ):
        self.people = dict(people or {})
        self.agent_answer_after = agent_answer_after
        self.number_answer_after = number_answer_after

    def party_for(self, address: str) -> Party:
        if address in self.people:
            return self.people[address]
        if address.startswith("client:"):
            name = address.removeprefix("client:")
            person = Person(name, rings=[Ring(RingPlan(answer_after=self.agent_answer_after))], patience_alone=3.0)
        else:
            person = Person(address, rings=[Ring(RingPlan(answer_after=self.number_answer_after))])
        self.people[address] = person
        return person
