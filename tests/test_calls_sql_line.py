"""voiceconfig.calls.sql.line_with_config returns what the ORM query it replaced returned (issue 14 item 3).

Plain SQL both databases accept: these run on SQLite and on PostgreSQL.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from voiceconfig.calls import sql

pytestmark = pytest.mark.django_db


def _line_by_orm(number: str):
    """The ORM query sql.line_with_config replaced (voicetwilio/webhooks/flow.py before issue 14)."""
    from django.db.models.expressions import RawSQL

    from voiceconfig.models import BusinessHours, Holiday, IvrOption, PhoneLine

    def config_has(model) -> RawSQL:
        table = PhoneLine._meta.db_table
        return RawSQL(f"EXISTS (SELECT 1 FROM {model._meta.db_table} x WHERE x.config_id = {table}.config_id)", ())

    has = {
        "has_hours": config_has(BusinessHours),
        "has_holidays": config_has(Holiday),
        "has_options": config_has(IvrOption),
    }
    return (
        PhoneLine.objects.select_related("config", "default_department")
        .annotate(**has)
        .filter(phone_number=number)
        .first()
    )


def _line_view(line) -> dict:
    fields = {f.attname: getattr(line, f.attname) for f in line._meta.concrete_fields}
    config = {f.attname: getattr(line.config, f.attname) for f in line.config._meta.concrete_fields}
    department = line.default_department
    department = department and {f.attname: getattr(department, f.attname) for f in department._meta.concrete_fields}
    has = [bool(line.has_hours), bool(line.has_holidays), bool(line.has_options)]
    return {**fields, "config": config, "department": department, "has": has}


@pytest.mark.parametrize("extras", [(), ("hours",), ("holiday", "option"), ("hours", "holiday", "option")])
def test_the_line_lookup_is_the_orm_querys(line, extras):
    from voiceconfig.models import BusinessHours, Holiday, IvrOption

    config = line.config
    if "hours" in extras:
        BusinessHours.objects.create(config=config, weekday=0, opens_at="09:00", closes_at="17:00")
    if "holiday" in extras:
        Holiday.objects.create(config=config, date="2026-12-25", name="Christmas")
    if "option" in extras:
        IvrOption.objects.create(config=config, digit="1", label="Sales", action="route")
    with CaptureQueriesContext(connection) as queries:
        found = sql.line_with_config(line.phone_number)
    assert len(queries) == 1
    assert _line_view(found) == _line_view(_line_by_orm(line.phone_number))
    assert _line_view(found)["has"] == ["hours" in extras, "holiday" in extras, "option" in extras]
    with CaptureQueriesContext(connection) as queries:
        assert found.config.greeting_text == config.greeting_text  # loaded with the line: no query
    assert not queries


def test_an_unknown_number_has_no_line(db):
    assert sql.line_with_config("+14155550999") is None


@pytest.mark.parametrize("with_department", [False, True])
def test_the_lines_default_department_comes_with_it(line, with_department):
    from voiceconfig.models import Department, PhoneLine

    if with_department:
        department = Department.objects.create(name="Sales")
        PhoneLine.objects.filter(pk=line.pk).update(default_department=department)
    else:
        PhoneLine.objects.filter(pk=line.pk).update(default_department=None)
    found = sql.line_with_config(line.phone_number)
    assert _line_view(found) == _line_view(_line_by_orm(line.phone_number))
    with CaptureQueriesContext(connection) as queries:
        assert (found.default_department.name if with_department else found.default_department) == (
            "Sales" if with_department else None
        )
    assert not queries  # loaded with the line
