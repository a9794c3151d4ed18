"""Fixtures for Twilio-facing tests (loaded by tests/conftest.py as a plugin)."""

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from voiceconfig.models import AgentStatus, VoiceAgent
from voicetwilio import gateway

from .payloads import payload, sid
from .signing import signed_post

_legs = itertools.count(1)


def twiml_of(response) -> ET.Element:
    """The TwiML document of a webhook answer, parsed (fails the test if it is not XML)."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


@dataclass
class GatewayMocks:
    add_participant: mock.Mock
    redirect_call: mock.Mock
    end_call: mock.Mock
    set_participant_ends_conference: mock.Mock
    announce_to_participant: mock.Mock

    def legs(self) -> list[str]:
        return [call.kwargs["to"] for call in self.add_participant.call_args_list]


@pytest.fixture
def twilio_gateway(monkeypatch):
    """Every gateway function the inbound flow uses, mocked: nothing reaches Twilio; calls are asserted on.

    Patched through `monkeypatch`, as tests patch further gateway functions: one undo stack, unwound in reverse, so
    a test that patches one of these again cannot leave a mock behind for the tests after it (with mock.patch here
    and monkeypatch in the test, the two undo in the wrong order whenever monkeypatch was set up first).
    """

    def participant(**kwargs):
        return gateway.Participant(call_sid=sid("CA", 0xA0000 + next(_legs)), conference_sid=sid("CF", 1))

    mocks = GatewayMocks(
        add_participant=mock.MagicMock(side_effect=participant),
        redirect_call=mock.MagicMock(),
        end_call=mock.MagicMock(),
        set_participant_ends_conference=mock.MagicMock(),
        announce_to_participant=mock.MagicMock(),
    )
    for name, function in vars(mocks).items():
        monkeypatch.setattr(gateway, name, function)
    return mocks


@pytest.fixture
def online_agent(make_agent):
    """An agent with a live console: available, heartbeat now."""

    def _make(username: str | None = None, **fields) -> VoiceAgent:
        agent = make_agent(username)
        now = timezone.now()
        fields = {"status": AgentStatus.AVAILABLE, "last_heartbeat_at": now, "status_changed_at": now, **fields}
        VoiceAgent.objects.filter(pk=agent.pk).update(**fields)
        agent.refresh_from_db()
        return agent

    return _make


class TwilioDriver:
    """Plays Twilio: posts signed, Twilio-shaped requests to our webhooks."""

    def __init__(self, client):
        self.client = client
        self.numbers = itertools.count(1)

    def new_sid(self) -> str:
        return sid("CA", next(self.numbers))

    def post(self, name: str, fixture: str, *, query: dict | None = None, accept: str = "", **fields):
        return signed_post(self.client, reverse(name), payload(fixture, **fields), query=query, accept=accept)

    def incoming(self, call_sid: str | None = None, *, to: str = "+14155550100", caller: str = "+14155550111", **kw):
        call_sid = call_sid or self.new_sid()
        return self.post("voice", "voice", CallSid=call_sid, To=to, Called=to, From=caller, Caller=caller, **kw)

    def gather(self, call_sid: str, *, digits: str = "", speech: str | None = None, **kw):
        fields = {"Digits": digits, "SpeechResult": speech}
        if speech is not None:
            fields["Confidence"] = "0.91"
        return self.post("gather", "gather", CallSid=call_sid, query={"callSid": call_sid}, **fields, **kw)

    def status(self, call_sid: str, status: str, *, seq: int | None = None, timestamp: str | None = None, **kw):
        return self.post(
            "statuscallback",
            "status_callback",
            CallSid=call_sid,
            CallStatus=status,
            SequenceNumber=seq,
            Timestamp=timestamp or "Tue, 14 Jun 2022 18:06:47 +0000",
            **kw,
        )

    def leg(
        self, call_sid: str, leg_sid: str, status: str, *, agent=None, seq: int | None = None, ring_all=False, **kw
    ):
        query = {"callSid": call_sid}
        if agent is not None:
            query["agent"] = agent.pk
        if ring_all:
            query["ringAll"] = "1"
        return self.post(
            "participant-callback",
            "participant_callback",
            query=query,
            CallSid=leg_sid,
            CallStatus=status,
            SequenceNumber=seq,
            **kw,
        )

    def conference(self, call_sid: str, event: str, *, participant: str = "", seq: int = 1, **kw):
        return self.post(
            "conference-callback",
            "conference_callback",
            query={"callSid": call_sid},
            CallSid=participant or call_sid,
            StatusCallbackEvent=event,
            SequenceNumber=seq,
            FriendlyName=f"call-{call_sid}",
            **kw,
        )

    def queue_wait(self, call_sid: str, *, status: str | None = "in-progress", **kw):
        # Twilio's waitUrl request carries the conference's details and the caller's CallStatus (answered: it is in
        # the conference); our own callSid rides in the URL.
        return self.post(
            "queue-wait", "conference_callback", query={"callSid": call_sid}, CallSid=call_sid, CallStatus=status, **kw
        )

    def voicemail(self, call_sid: str):
        return self.post("voicemail", "gather", query={"callSid": call_sid}, CallSid=call_sid, Digits=None)

    def recording(self, call_sid: str, *, kind: str = "voicemail", **kw):
        return self.post(
            "recording-callback", "recording", query={"callSid": call_sid, "kind": kind}, CallSid=call_sid, **kw
        )

    def dial_action(self, call_sid: str, status: str):
        return self.post(
            "dial-callback", "dial_action", query={"callSid": call_sid}, CallSid=call_sid, DialCallStatus=status
        )


@pytest.fixture
def twilio(client, db) -> TwilioDriver:
    return TwilioDriver(client)
