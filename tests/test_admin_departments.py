"""Departments in the admin (issue 16): the live overview groups callers and members by department; the department
form edits members with levels and refuses what the REST API refuses."""

import re

import pytest
from django.urls import reverse

from tests.test_admin_ui import admin_client_logged_in, live_call  # noqa: F401 (a fixture)
from voiceconfig.admin_views import overview_data
from voiceconfig.models import AgentStatus, Department, DepartmentMember, PhoneLine, VoiceAgent

pytestmark = pytest.mark.django_db


def test_the_overview_groups_waiting_callers_and_members_by_department(
    admin_client_logged_in,  # noqa: F811
    line,
    config,
    make_agent,
):
    sales, support = (
        Department.objects.create(name="Sales", strategy="round-robin"),
        Department.objects.create(name="Support"),
    )
    ann, bob = make_agent("ann"), make_agent("bob")
    DepartmentMember.objects.create(department=sales, agent=ann, level=1)
    DepartmentMember.objects.create(department=sales, agent=bob, level=2)
    line.default_department = sales
    line.save()
    other = PhoneLine.objects.create(name="Other", phone_number="+14155550177", config=config)
    live_call(1, line=line, queued_seconds_ago=90)
    live_call(2, line=line, queued_seconds_ago=10)
    live_call(3, line=other, queued_seconds_ago=30, department=support)  # an IVR option's department
    live_call(4, line=other, queued_seconds_ago=5)  # no department: not in either row

    rows = {item["row"].department.name: item for item in overview_data()["departments"]}

    assert (rows["Sales"]["row"].waiting_count, rows["Sales"]["longest_wait"]) == (2, "1 min 30 s")
    assert [(member.agent.identity, level) for member, level in rows["Sales"]["row"].members] == [
        ("ann", 1),
        ("bob", 2),
    ]
    assert (rows["Support"]["row"].waiting_count, rows["Support"]["longest_wait"]) == (1, "30 s")
    html = admin_client_logged_in.get(reverse("voice-overview")).content.decode()
    assert re.search(r'id="voice-departments"', html)
    assert "Round robin" in html and "ann (1)" in html


def test_the_department_form_saves_members_and_refuses_a_forward_without_a_number(
    admin_client_logged_in,  # noqa: F811
    make_agent,
):
    ann = make_agent("ann")
    url = reverse("admin:voiceconfig_department_add")
    form = {
        "name": "Sales",
        "strategy": "linear",
        "time_zone": "UTC",
        "no_agents_action": "wait",
        "members-TOTAL_FORMS": "1",
        "members-INITIAL_FORMS": "0",
        "members-0-agent": str(ann.pk),
        "members-0-level": "3",
        "members-0-position": "0",
    }

    refused = admin_client_logged_in.post(url, {**form, "no_agents_action": "forward"})
    saved = admin_client_logged_in.post(url, form)

    assert refused.status_code == 200 and "Forwarding needs a number" in refused.content.decode()
    assert saved.status_code == 302, saved.content.decode()[:2000]
    member = DepartmentMember.objects.get(department__name="Sales")
    assert (member.agent, member.level) == (ann, 3)
    assert VoiceAgent.objects.get(pk=ann.pk).status == AgentStatus.OFFLINE
