"""Issue 16: every existing line gets a department made from its agents, so routing does not change.

The department is longest-idle with every member at level 1 and waits forever (`wait`), as a line's callers do
today; a line that lists no agents gets a department with no members, which (like the line) everyone answers.
"""

from django.db import migrations


def unique_name(Department, wanted: str) -> str:
    name, n = wanted[:100], 2
    while Department.objects.filter(name=name).exists():
        suffix = f" ({n})"
        name, n = wanted[: 100 - len(suffix)] + suffix, n + 1
    return name


def departments_from_lines(apps, schema_editor):
    PhoneLine = apps.get_model("voiceconfig", "PhoneLine")
    Department = apps.get_model("voiceconfig", "Department")
    DepartmentMember = apps.get_model("voiceconfig", "DepartmentMember")
    for line in PhoneLine.objects.filter(default_department__isnull=True).order_by("id"):
        department = Department.objects.create(name=unique_name(Department, line.name), time_zone=line.config.time_zone)
        agent_ids = sorted(line.agents.values_list("id", flat=True))
        DepartmentMember.objects.bulk_create(
            DepartmentMember(department=department, agent_id=agent_id, level=1, position=index)
            for index, agent_id in enumerate(agent_ids)
        )
        line.default_department = department
        line.save(update_fields=["default_department"])


def lines_forget_departments(apps, schema_editor):
    PhoneLine = apps.get_model("voiceconfig", "PhoneLine")
    PhoneLine.objects.update(default_department=None)


class Migration(migrations.Migration):
    dependencies = [("voiceconfig", "0012_departments")]

    operations = [migrations.RunPython(departments_from_lines, lines_forget_departments)]
