"""The console's dialer API (issue 19): lines to call from, and the guard's answer before dialling."""

from voiceconfig.models import PhoneLine


def test_an_agent_lists_the_lines_they_may_call_from(agent_client, agent, other_agent, line, config):
    line.agents.add(agent)
    PhoneLine.objects.create(name="Not mine", phone_number="+14155550166", config=config).agents.add(other_agent)

    body = agent_client.get("/voicetwilio/dial/lines").json()

    assert body == {"lines": [{"id": line.pk, "name": "Main", "phoneNumber": "+14155550100"}]}


def test_the_check_accepts_a_number_of_the_lines_country(agent_client, agent, line):
    line.agents.add(agent)

    response = agent_client.post("/voicetwilio/dial/check", {"to": "+14155550142"}, format="json")

    assert response.status_code == 200 and response.json()["line"]["id"] == line.pk


def test_the_check_refuses_a_premium_number_with_a_clear_message(agent_client, agent, line):
    line.agents.add(agent)

    response = agent_client.post("/voicetwilio/dial/check", {"to": "+19005550142"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "dial_refused" and "premium-rate" in response.json()["message"]


def test_the_check_needs_a_number_and_an_agent(agent_client, staff_client, agent, line):
    missing = agent_client.post("/voicetwilio/dial/check", {}, format="json")
    assert missing.status_code == 400 and {"error", "message"} <= set(missing.json())
    assert staff_client.post("/voicetwilio/dial/check", {"to": "+14155550142"}, format="json").status_code == 403
