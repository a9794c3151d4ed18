"""Staff manage voice agents over REST: Twilio-valid identities, platform-owned busy states, busy agents kept."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.conftest import call_sid, make_user
from voiceconfig.calls import available_agents
from voiceconfig.models import AgentStatus, Call, CallStatus, VoiceAgent

URL = "/voiceconfig/voiceagents"


@pytest.fixture
def team(make_agent, line):
    carol = make_agent("carol", display_name="Carol Jones", status=AgentStatus.AVAILABLE)
    dave = make_agent("dave", display_name="Dave Smith", status=AgentStatus.UNAVAILABLE)
    erin = make_agent("erin", display_name="Erin Jones")
    line.agents.add(dave)
    return carol, dave, erin


def identities(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["identity"] for row in response.json()["results"]]


def test_creating_an_agent_derives_identity_and_display_name_from_the_user(staff_client, db):
    user = get_user_model().objects.create_user(username="jane.doe@example.com", first_name="Jane", last_name="Doe")

    response = staff_client.post(URL, {"user": user.pk}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["identity"] == "jane_doe_example_com"
    assert body["displayName"] == "Jane Doe"
    assert body["username"] == "jane.doe@example.com"
    assert body["status"] == "offline"
    assert VoiceAgent.objects.get(pk=body["id"]).user == user


def test_a_derived_identity_never_collides_with_an_existing_one(staff_client, make_agent):
    make_agent("sam", identity="sam_1")
    make_agent("sam_1_owner", identity="sam")
    user = make_user("sam!")  # would derive "sam_", free

    response = staff_client.post(URL, {"user": user.pk}, format="json")
    clash = staff_client.post(URL, {"user": make_user("sam?").pk}, format="json")

    assert response.json()["identity"] == "sam_"
    assert clash.json()["identity"] == "sam__2"


def test_an_explicit_identity_and_status_are_kept(staff_client, db):
    user = make_user("frank")

    response = staff_client.post(
        URL, {"user": user.pk, "identity": "Frank_01", "displayName": "Frank", "status": "available"}, format="json"
    )

    assert response.status_code == 201, response.content
    agent = VoiceAgent.objects.get(user=user)
    assert (agent.identity, agent.display_name, agent.status) == ("Frank_01", "Frank", "available")


@pytest.mark.parametrize(
    "identity", ["has space", "dash-ed", "client:alice", "x" * 122, "", "ünïcode", "semi;colon", "tab\there"]
)
def test_identities_twilio_would_refuse_are_refused(staff_client, db, identity):
    response = staff_client.post(URL, {"user": make_user("gina").pk, "identity": identity}, format="json")

    assert response.status_code == 400, response.content
    assert "identity" in response.json()["details"]
    assert not VoiceAgent.objects.exists()


def test_an_identity_of_121_characters_is_the_longest_allowed(staff_client, db):
    response = staff_client.post(URL, {"user": make_user("long").pk, "identity": "a" * 121}, format="json")

    assert response.status_code == 201, response.content


def test_identities_are_unique(staff_client, agent):
    response = staff_client.post(URL, {"user": make_user("copycat").pk, "identity": agent.identity}, format="json")

    assert response.status_code == 400
    assert response.json()["details"]["identity"] == ["Another agent already uses this identity."]


def test_a_user_is_at_most_one_agent(staff_client, agent):
    response = staff_client.post(URL, {"user": agent.user_id}, format="json")

    assert response.status_code == 400
    assert response.json()["details"]["user"] == ["This user is already an agent."]


def test_a_missing_user_is_refused(staff_client, db):
    response = staff_client.post(URL, {"user": 999999}, format="json")

    assert response.status_code == 400
    assert "user" in response.json()["details"]


@pytest.mark.parametrize("status", ["ringing", "in_call", "wrap_up"])
def test_busy_states_belong_to_the_platform_and_cannot_be_set(staff_client, agent, status):
    response = staff_client.patch(f"{URL}/{agent.pk}", {"status": status}, format="json")

    assert response.status_code == 400
    assert "status" in response.json()["details"]
    agent.refresh_from_db()
    assert agent.status == "offline"


def test_an_unknown_status_is_refused(staff_client, agent):
    response = staff_client.patch(f"{URL}/{agent.pk}", {"status": "napping"}, format="json")

    assert response.status_code == 400
    assert "status" in response.json()["details"]


def test_staff_setting_an_agent_available_records_the_change_but_is_no_heartbeat(staff_client, agent):
    response = staff_client.patch(f"{URL}/{agent.pk}", {"status": "available"}, format="json")

    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert agent.status == "available"
    assert response.json()["statusChangedAt"] is not None
    # Presence comes from the agent's console: with none open, staff's choice does not make them routable.
    assert agent.last_heartbeat_at is None
    assert agent not in available_agents(line=None)


def test_an_agent_on_a_live_call_cannot_be_set_offline_over_rest(staff_client, agent):
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.IN_CALL)
    Call.objects.create(call_sid=call_sid(1), agent=agent, status=CallStatus.IN_PROGRESS)

    response = staff_client.patch(f"{URL}/{agent.pk}", {"status": "offline"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    agent.refresh_from_db()
    assert agent.status == AgentStatus.IN_CALL


def test_an_agent_stuck_ringing_without_a_live_call_can_be_reset(staff_client, agent):
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.RINGING)

    response = staff_client.patch(f"{URL}/{agent.pk}", {"status": "unavailable"}, format="json")

    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert agent.status == AgentStatus.UNAVAILABLE


def test_busy_status_is_accepted_unchanged_in_a_put(staff_client, agent):
    VoiceAgent.objects.filter(pk=agent.pk).update(status=AgentStatus.WRAP_UP)

    response = staff_client.put(
        f"{URL}/{agent.pk}", {"user": agent.user_id, "displayName": "Alice A.", "status": "wrap_up"}, format="json"
    )

    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert (agent.display_name, agent.status, agent.identity) == ("Alice A.", "wrap_up", "alice")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"identity": "dave"}, ["dave"]),
        ({"displayName": "jones"}, ["carol", "erin"]),
        ({"status": "available"}, ["carol"]),
        ({"search": "smith"}, ["dave"]),
        ({"search": "erin"}, ["erin"]),
        ({"ordering": "-identity"}, ["erin", "dave", "carol"]),
        ({"ordering": "displayName"}, ["carol", "dave", "erin"]),
        ({"ordering": "status"}, ["carol", "erin", "dave"]),
    ],
)
def test_list_filters_searches_and_orders(staff_client, team, query, expected):
    assert identities(staff_client.get(URL, query)) == expected


def test_list_filters_by_user_and_by_phone_line(staff_client, team, line):
    carol, dave, erin = team

    assert identities(staff_client.get(URL, {"user": erin.user_id})) == ["erin"]
    assert identities(staff_client.get(URL, {"phoneLine": line.pk})) == ["dave"]


def test_retrieve_shows_the_agent(staff_client, agent):
    body = staff_client.get(f"{URL}/{agent.pk}").json()

    assert body["id"] == agent.pk
    assert body["user"] == agent.user_id
    assert body["identity"] == "alice"
    assert body["displayName"] == "Alice"


def test_changing_identity_to_one_in_use_is_refused(staff_client, agent, other_agent):
    response = staff_client.patch(f"{URL}/{agent.pk}", {"identity": other_agent.identity}, format="json")

    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.identity == "alice"


def test_delete_removes_an_idle_agent_and_keeps_their_past_calls(staff_client, agent):
    Call.objects.create(call_sid=call_sid(2), agent=agent, status=CallStatus.COMPLETED)

    response = staff_client.delete(f"{URL}/{agent.pk}")

    assert response.status_code == 204
    assert not VoiceAgent.objects.filter(pk=agent.pk).exists()
    assert Call.objects.get(call_sid=call_sid(2)).agent is None


def test_deleting_an_agent_on_a_live_call_is_a_409_and_nothing_changes(staff_client, agent):
    call = Call.objects.create(call_sid=call_sid(3), agent=agent, status=CallStatus.IN_PROGRESS)

    response = staff_client.delete(f"{URL}/{agent.pk}")

    assert response.status_code == 409
    assert "live call" in response.json()["message"]
    assert VoiceAgent.objects.filter(pk=agent.pk).exists()
    call.refresh_from_db()
    assert call.agent_id == agent.pk


def test_can_take_calls_lists_the_agents_routing_would_ring_now(staff_client, make_agent):
    now = timezone.now()
    ready, stale, wrapped, wrapping, busy = (
        make_agent(name) for name in ("ready", "stale", "wrapped", "wrapping", "busy")
    )
    VoiceAgent.objects.filter(pk__in=[ready.pk, busy.pk]).update(status=AgentStatus.AVAILABLE, last_heartbeat_at=now)
    # Staff set this one available, but no console of theirs sends heartbeats.
    VoiceAgent.objects.filter(pk=stale.pk).update(status=AgentStatus.AVAILABLE, last_heartbeat_at=None)
    VoiceAgent.objects.filter(pk=wrapped.pk).update(
        status=AgentStatus.WRAP_UP, wrap_up_until=now - timedelta(seconds=1), last_heartbeat_at=now
    )
    VoiceAgent.objects.filter(pk=wrapping.pk).update(
        status=AgentStatus.WRAP_UP, wrap_up_until=now + timedelta(seconds=30), last_heartbeat_at=now
    )
    Call.objects.create(call_sid=call_sid(3), agent=busy, status=CallStatus.IN_PROGRESS)

    assert sorted(identities(staff_client.get(URL, {"canTakeCalls": "true"}))) == ["ready", "wrapped"]
    assert sorted(identities(staff_client.get(URL, {"canTakeCalls": "false"}))) == ["busy", "stale", "wrapping"]
