"""Staff manage departments over REST: members with levels in their listed order, the error envelope for bad
input, and a phone line / IVR option that names a department."""

import pytest

from voiceconfig.models import Department, DepartmentMember

URL = "/voiceconfig/departments"


def test_creating_a_department_stores_members_in_the_listed_order_with_their_levels(staff_client, agent, other_agent):
    response = staff_client.post(
        URL,
        {
            "name": "Sales",
            "strategy": "round-robin",
            "members": [{"agent": other_agent.pk, "level": 2}, {"agent": agent.pk}],
            "maxCallers": 5,
            "widenAfterSeconds": 30,
            "announcePosition": True,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["members"] == [{"agent": other_agent.pk, "level": 2}, {"agent": agent.pk, "level": 1}]
    assert body["strategy"] == "round-robin"
    assert body["noAgentsAction"] == "wait"
    stored = list(
        DepartmentMember.objects.filter(department_id=body["id"]).values_list("agent_id", "level", "position")
    )
    assert stored == [(other_agent.pk, 2, 0), (agent.pk, 1, 1)]


def test_patching_members_replaces_the_list_and_leaves_other_fields(staff_client, agent, other_agent):
    department = Department.objects.create(name="Support", strategy="linear")
    DepartmentMember.objects.create(department=department, agent=agent, level=1)

    response = staff_client.patch(
        f"{URL}/{department.pk}", {"members": [{"agent": other_agent.pk, "level": 3}]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["members"] == [{"agent": other_agent.pk, "level": 3}]
    assert response.json()["strategy"] == "linear"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "X", "strategy": "fastest"}, "strategy"),
        ({"name": "X", "members": [{"agent": 999999, "level": 1}]}, "members"),
        ({"name": "X", "members": [{"agent": "AGENT", "level": 10}]}, "members"),
        ({"name": "X", "noAgentsAction": "forward"}, "noAgentsForwardTo"),
        ({"name": "X", "maxCallers": -1}, "maxCallers"),
        ({"name": "X", "noAgentsAction": "forward", "noAgentsForwardTo": "12"}, "noAgentsForwardTo"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(staff_client, agent, payload, field):
    response = staff_client.post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] and body["message"]
    assert field in str(body)
    assert not Department.objects.exists()


def test_an_agent_listed_twice_is_refused(staff_client, agent):
    response = staff_client.post(
        URL, {"name": "Twice", "members": [{"agent": agent.pk}, {"agent": agent.pk, "level": 2}]}, format="json"
    )

    assert response.status_code == 400
    assert "once" in str(response.json())


def test_a_department_cannot_overflow_to_itself(staff_client):
    department = Department.objects.create(name="Loop")

    response = staff_client.patch(f"{URL}/{department.pk}", {"overflowDepartment": department.pk}, format="json")

    assert response.status_code == 400
    assert "itself" in str(response.json())


def test_the_list_filters_by_member_agent_and_strategy(staff_client, agent, other_agent):
    sales = Department.objects.create(name="Sales", strategy="random")
    Department.objects.create(name="Support")
    DepartmentMember.objects.create(department=sales, agent=agent)

    by_agent = staff_client.get(URL, {"agent": agent.pk}).json()["results"]
    by_strategy = staff_client.get(URL, {"strategy": "longest-idle"}).json()["results"]

    assert [row["name"] for row in by_agent] == ["Sales"]
    assert [row["name"] for row in by_strategy] == ["Support"]


def test_agents_cannot_read_or_write_departments(agent_client):
    assert agent_client.get(URL).status_code == 403
    assert agent_client.post(URL, {"name": "Mine"}, format="json").status_code == 403


def test_a_line_and_an_ivr_option_name_a_department(staff_client, line, config):
    sales = Department.objects.create(name="Sales")

    line_response = staff_client.patch(
        f"/voiceconfig/phonelines/{line.pk}", {"defaultDepartment": sales.pk}, format="json"
    )
    config_response = staff_client.patch(
        f"/voiceconfig/configs/{config.pk}",
        {"ivrOptions": [{"digit": "1", "action": "route", "department": sales.pk}]},
        format="json",
    )

    assert line_response.status_code == 200, line_response.content
    assert line_response.json()["defaultDepartment"] == sales.pk
    assert config_response.status_code == 200, config_response.content
    assert config_response.json()["ivrOptions"][0]["department"] == sales.pk
