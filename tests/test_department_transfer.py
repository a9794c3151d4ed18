"""`:transfer {"type": "department"}` (issue 16): the agent leaves, the caller waits first in the department's
queue on the queue music, and the department's next member is rung into the same conference."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.console_support import CONFERENCE_SID, connected_call, install_fake_gateway, make_available, waiting_call
from voiceconfig.models import AgentStatus, Call, CallEvent, CallLog, Department, DepartmentMember, Transfer


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


@pytest.fixture
def call(agent, line):
    return connected_call(agent=agent, line=line)


@pytest.fixture
def billing(make_agent):
    department = Department.objects.create(name="Billing")
    carol = make_agent("carol")
    DepartmentMember.objects.create(department=department, agent=carol)
    return department


def transfer(client, call, **body):
    return client.post(f"/voicetwilio/calls/{call.pk}:transfer", body, format="json")


def test_the_caller_goes_to_the_head_of_the_departments_queue_and_its_free_member_is_rung(
    agent, agent_client, call, line, billing, fake_gateway
):
    carol = billing.members.get().agent
    already = waiting_call(line=line, n=7, waited=600)  # waiting longer than our caller, in the department
    Call.objects.filter(pk=already.pk).update(department=billing)
    make_available(carol)
    agent_leg = call.agent_call_sid

    response = transfer(agent_client, call, type="department", to="billing")

    assert response.status_code == 200, response.json()
    assert fake_gateway.names()[:3] == ["set_participant_ends_conference", "set_participant_hold", "remove_participant"]
    assert fake_gateway.kwargs("remove_participant") == [{"conference_sid": CONFERENCE_SID, "call_sid": agent_leg}]
    assert "queuewait" in fake_gateway.kwargs("set_participant_hold")[0]["hold_url"]
    call.refresh_from_db()
    assert (call.stage, call.department, call.requeued_at is not None) == ("queued", billing, True)
    assert call.queued_at < Call.objects.get(pk=already.pk).queued_at  # at the head of the queue
    assert call.agent == carol  # the department's member was rung for our caller, not the one waiting before
    assert fake_gateway.kwargs("add_participant")[0]["to"] == "client:carol"
    agent.refresh_from_db()
    assert agent.status == AgentStatus.WRAP_UP
    row = Transfer.objects.get(call=call)
    assert (row.target_type, row.target, row.state, row.mode) == ("department", "Billing", "completed", "cold")
    assert response.json()["transfer"]["type"] == "department"
    entry = CallLog.objects.filter(call=call, event=CallEvent.TRANSFER).get()
    assert "passed the call to department Billing" in entry.message


def test_a_department_may_be_named_by_id(agent_client, call, billing, fake_gateway):
    assert transfer(agent_client, call, type="department", to=str(billing.pk)).status_code == 200


def test_an_unknown_department_is_a_400_and_nothing_changes(agent, agent_client, call, fake_gateway):
    response = transfer(agent_client, call, type="department", to="Nowhere")

    assert response.status_code == 400
    assert response.json()["error"] and "Nowhere" in str(response.json())
    assert fake_gateway.names() == []
    call.refresh_from_db()
    assert call.agent == agent and call.stage == "connected"


def test_twilio_refusing_is_a_502_and_the_caller_stays_with_the_agent(agent, agent_client, call, billing, fake_gateway):
    fake_gateway.fail("remove_participant")

    response = transfer(agent_client, call, type="department", to="Billing")

    assert response.status_code == 502
    call.refresh_from_db()
    assert (call.agent, call.stage, call.department) == (agent, "connected", None)
    assert Transfer.objects.get(call=call).state == "failed"
    # what was done at Twilio is undone: the caller off hold, the agent's leg ends the conference again
    assert fake_gateway.names()[-2:] == ["set_participant_hold", "set_participant_ends_conference"]
    assert fake_gateway.kwargs("set_participant_hold")[-1]["hold"] is False
    assert timezone.now() - timedelta(minutes=5) < call.updated_at
