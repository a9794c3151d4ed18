"""The data migration gives every existing line a department made from its agents (issue 16): same agents, all
at level 1, longest idle, callers wait; a line without agents gets an empty department (everyone answers)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("voiceconfig", "0012_departments")]
AFTER = [("voiceconfig", "0013_departments_from_lines")]


@pytest.mark.django_db(transaction=True)
def test_every_line_gets_a_department_of_its_agents():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Config, Line, Agent = (apps.get_model("voiceconfig", name) for name in ("VoiceConfig", "PhoneLine", "VoiceAgent"))
    Department = apps.get_model("voiceconfig", "Department")
    config = Config.objects.create(name="Main", time_zone="Europe/London")
    User = apps.get_model("auth", "User")
    ann, bob = (Agent.objects.create(identity=name, user=User.objects.create(username=name)) for name in ("ann", "bob"))
    Department.objects.create(name="Sales")  # a name already taken: the line's department gets another
    sales = Line.objects.create(name="Sales", phone_number="+14155550101", config=config)
    sales.agents.add(bob, ann)
    open_line = Line.objects.create(name="Open", phone_number="+14155550102", config=config)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Line, Member = apps.get_model("voiceconfig", "PhoneLine"), apps.get_model("voiceconfig", "DepartmentMember")

    sales, open_line = Line.objects.get(pk=sales.pk), Line.objects.get(pk=open_line.pk)
    assert sales.default_department.name == "Sales (2)"
    assert sales.default_department.strategy == "longest-idle"
    assert sales.default_department.no_agents_action == "wait"
    assert sales.default_department.time_zone == "Europe/London"
    members = Member.objects.filter(department=sales.default_department).order_by("position")
    assert [(m.agent_id, m.level) for m in members] == [(ann.pk, 1), (bob.pk, 1)]
    assert open_line.default_department.name == "Open"
    assert not Member.objects.filter(department=open_line.default_department).exists()
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
