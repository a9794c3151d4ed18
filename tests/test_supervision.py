"""Supervision (issue 18): `:monitor` listen / whisper / barge, changing mode, leaving, the permission, the agent's
console showing who listens, and every step on the timeline. Fake gateway here; the wire format is in
tests/contract, and whisper being heard by the agent only is in the emulator scenario."""

import pytest
from django.contrib.auth.models import Permission

from tests.conftest import api_client_for
from tests.console_support import CONFERENCE_SID, connected_call, install_fake_gateway
from tests.twilio.payloads import sid
from voiceconfig.models import Call, CallEvent, CallLog, Supervision, SupervisionState
from voicetwilio import gateway

SUPERVISOR_LEG = sid("CA", 9000)


@pytest.fixture
def fake_gateway(monkeypatch):
    fake = install_fake_gateway(monkeypatch)

    def add_supervisor(**kwargs):
        fake._record("add_supervisor", kwargs)
        return SUPERVISOR_LEG

    monkeypatch.setattr(gateway, "add_supervisor", add_supervisor)
    monkeypatch.setattr(gateway, "set_supervisor_mode", fake.set_supervisor_mode)
    return fake


@pytest.fixture
def supervisor(make_agent):
    """A team lead: a voice agent (their softphone rings) with the supervise permission, not staff."""
    lead = make_agent("carol")
    lead.user.user_permissions.add(Permission.objects.get(codename="supervise_call"))
    return lead


@pytest.fixture
def supervisor_client(supervisor):
    return api_client_for(supervisor.user)


@pytest.fixture
def call(agent, line):
    return connected_call(agent=agent, line=line)


def monitor(client, call, mode):
    return client.post(f"/voicetwilio/calls/{call.pk}:monitor", {"mode": mode}, format="json")


def supervision_log(call):
    return [row.message for row in CallLog.objects.filter(call=call, event=CallEvent.SUPERVISION).order_by("id")]


def test_listen_rings_the_supervisor_in_muted(supervisor_client, supervisor, call, fake_gateway):
    response = monitor(supervisor_client, call, "listen")
    assert response.status_code == 200, response.json()
    assert response.json()["supervision"] == {
        "id": Supervision.objects.get().pk,
        "supervisor": "carol",
        "identity": supervisor.identity,
        "mode": "listen",
        "state": "requested",
        "legSid": SUPERVISOR_LEG,
    }
    [sent] = fake_gateway.kwargs("add_supervisor")
    assert sent == {
        "conference_sid": CONFERENCE_SID,
        "to": f"client:{supervisor.identity}",
        "from_": "+14155550100",
        "mode": "listen",
        "agent_leg": call.agent_call_sid,
        "timeout_seconds": 30,
    }


def test_the_supervisor_switches_to_whisper_then_barge_and_leaves(
    supervisor_client, twilio, agent_client, agent, call, fake_gateway
):
    monitor(supervisor_client, call, "listen")
    twilio.conference(call.call_sid, "participant-join", participant=SUPERVISOR_LEG, seq=5)
    assert Supervision.objects.get().state == SupervisionState.ON

    heartbeat = agent_client.post(f"/voicetwilio/agent/{agent.pk}/heartbeats", {}, format="json").json()
    assert heartbeat["call"]["supervisors"] == [
        {"supervisor": "carol", "identity": "carol", "mode": "listen", "state": "on"}
    ]

    assert monitor(supervisor_client, call, "whisper").json()["supervision"]["mode"] == "whisper"
    assert monitor(supervisor_client, call, "whisper").json()["changed"] is False  # asks Twilio nothing
    assert monitor(supervisor_client, call, "barge").json()["supervision"]["mode"] == "barge"
    assert [kw["mode"] for kw in fake_gateway.kwargs("set_supervisor_mode")] == ["whisper", "barge"]
    assert fake_gateway.kwargs("set_supervisor_mode")[0]["agent_leg"] == call.agent_call_sid

    left = monitor(supervisor_client, call, "off").json()
    assert left["supervision"]["state"] == "ended"
    assert fake_gateway.kwargs("remove_participant") == [{"conference_sid": CONFERENCE_SID, "call_sid": SUPERVISOR_LEG}]
    assert len(fake_gateway.kwargs("add_supervisor")) == 1
    assert supervision_log(call) == [
        "Supervisor carol joining to listen",
        "Supervisor carol is listening",
        "Supervisor carol is whispering to the agent (was listen)",
        "Supervisor carol has barged into the call (was whisper)",
        "Supervisor carol stopped supervising (carol)",
    ]


def test_the_supervisor_hanging_up_ends_the_supervision(supervisor_client, twilio, call, fake_gateway):
    monitor(supervisor_client, call, "listen")
    twilio.conference(call.call_sid, "participant-join", participant=SUPERVISOR_LEG, seq=5)
    twilio.conference(call.call_sid, "participant-leave", participant=SUPERVISOR_LEG, seq=6)
    twilio.conference(call.call_sid, "participant-leave", participant=SUPERVISOR_LEG, seq=6)  # replayed
    assert Supervision.objects.get().state == SupervisionState.ENDED
    assert supervision_log(call)[-1] == "Supervisor carol left the call"
    assert len(supervision_log(call)) == 3


def test_an_agent_without_the_permission_cannot_listen(agent_client, call, fake_gateway):
    response = monitor(agent_client, call, "listen")
    assert response.status_code == 403
    assert fake_gateway.sent == [] and not Supervision.objects.exists()


def test_a_supervisor_without_a_softphone_is_told_so(staff_user, call, fake_gateway):
    staff_user.is_superuser = True
    staff_user.save()
    response = monitor(api_client_for(staff_user), call, "listen")
    assert response.status_code == 400 and "softphone" in str(response.json())


def test_a_call_not_connected_or_ended_cannot_be_supervised(supervisor_client, call, fake_gateway):
    Call.objects.filter(pk=call.pk).update(agent_call_sid="")
    assert monitor(supervisor_client, call, "listen").status_code == 409
    Call.objects.filter(pk=call.pk).update(status="completed")
    assert monitor(supervisor_client, call, "listen").status_code == 409
    assert monitor(supervisor_client, call, "off").status_code == 409  # never supervised it
    assert fake_gateway.sent == []


def test_an_unknown_mode_is_a_400(supervisor_client, call, fake_gateway):
    response = monitor(supervisor_client, call, "shout")
    assert response.status_code == 400 and response.json()["error"] == "validation_error"


def test_twilio_refusing_the_supervisor_is_a_502_and_leaves_nobody_on(supervisor_client, call, fake_gateway):
    fake_gateway.fail("add_supervisor")
    assert monitor(supervisor_client, call, "whisper").status_code == 502
    assert Supervision.objects.get().state == SupervisionState.FAILED
    fake_gateway.failing.clear()
    assert monitor(supervisor_client, call, "whisper").status_code == 200  # may try again
