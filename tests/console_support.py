"""Building blocks for the agent console tests: connected calls, a fake gateway, database snapshots."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from tests.twilio.payloads import sid
from voiceconfig.models import AgentStatus, Call, CallLog, CallStage, CallStatus, VoiceAgent
from voicetwilio import gateway

CONFERENCE_SID = "CF" + "c" * 32


def make_available(agent: VoiceAgent, **fields) -> VoiceAgent:
    now = timezone.now()
    values = {"status": AgentStatus.AVAILABLE, "status_changed_at": now, "last_heartbeat_at": now, **fields}
    VoiceAgent.objects.filter(pk=agent.pk).update(**values)
    agent.refresh_from_db()
    return agent


def connected_call(*, agent: VoiceAgent, line, n: int = 1, **fields) -> Call:
    """A caller talking to `agent` in the call's conference, as routing leaves it once the agent answered."""
    now = timezone.now()
    make_available(agent, status=AgentStatus.IN_CALL)
    values = {
        "call_sid": sid("CA", n),
        "from_number": "+14155550199",
        "to_number": line.phone_number,
        "phone_line": line,
        "agent": agent,
        "status": CallStatus.IN_PROGRESS,
        "stage": CallStage.CONNECTED,
        "conference_name": f"call-{sid('CA', n)}",
        "conference_sid": CONFERENCE_SID,
        "agent_call_sid": sid("CA", 1000 + n),
        "started_at": now - timedelta(seconds=120),
        "queued_at": now - timedelta(seconds=100),
        "answered_at": now - timedelta(seconds=60),
        **fields,
    }
    return Call.objects.create(**values)


def waiting_call(*, line, n: int, waited: int) -> Call:
    """A caller in the queue for `waited` seconds, nobody ringing."""
    now = timezone.now()
    return Call.objects.create(
        call_sid=sid("CA", n),
        from_number="+14155550188",
        to_number=line.phone_number,
        phone_line=line,
        status=CallStatus.IN_PROGRESS,
        stage=CallStage.QUEUED,
        conference_name=f"call-{sid('CA', n)}",
        started_at=now - timedelta(seconds=waited + 5),
        queued_at=now - timedelta(seconds=waited),
    )


@dataclass
class FakeGateway:
    """Stands in for the gateway's functions: records each call, answers like Twilio, fails on demand."""

    sent: list[tuple[str, dict]] = field(default_factory=list)
    failing: dict[str, gateway.GatewayError] = field(default_factory=dict)
    legs: int = 0

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def kwargs(self, name: str) -> list[dict]:
        return [kwargs for sent_name, kwargs in self.sent if sent_name == name]

    def fail(self, name: str, message: str = "Twilio said no") -> None:
        self.failing[name] = gateway.GatewayError(message, twilio_code=20404, twilio_status=404)

    def _record(self, name: str, kwargs: dict):
        self.sent.append((name, kwargs))
        if name in self.failing:
            raise self.failing[name]

    def add_participant(self, **kwargs):
        self._record("add_participant", kwargs)
        self.legs += 1
        return gateway.Participant(call_sid=sid("CA", 5000 + self.legs), conference_sid=CONFERENCE_SID)

    def __getattr__(self, name: str):
        if name.startswith("_") or not hasattr(gateway, name):
            raise AttributeError(name)
        return lambda **kwargs: self._record(name, kwargs)


def install_fake_gateway(monkeypatch) -> FakeGateway:
    """Replace the gateway's Twilio-calling functions for one test (use from a fixture)."""
    fake = FakeGateway()
    for name in (
        "add_participant",
        "set_participant_hold",
        "set_participant_ends_conference",
        "remove_participant",
        "redirect_call",
        "end_call",
    ):
        monkeypatch.setattr(gateway, name, getattr(fake, name))
    return fake


def snapshot() -> dict:
    """Every row the console writes, every column: equal snapshots mean the database did not change."""
    return {
        "calls": list(Call.objects.order_by("pk").values()),
        "logs": list(CallLog.objects.order_by("pk").values()),
        "agents": list(VoiceAgent.objects.order_by("pk").values()),
    }
