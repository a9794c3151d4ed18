"""`manage.py load_demo` creates the README's demo data, can run any number of times, and its credentials work."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from voiceconfig.models import IvrOption, PhoneLine, VoiceAgent, VoiceConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def readme_credentials() -> dict[str, str]:
    """The logins the README gives, read from it, so the README and the command cannot drift apart."""
    admin = re.search(r"\*\*(\w+)\*\* / \*\*([\w-]+)\*\*", README)
    agents = re.search(r"agents \*\*(\w+)\*\* and \*\*(\w+)\*\* \(password \*\*([\w-]+)\*\*\)", README)
    assert admin and agents, "the README must give the demo logins"
    return {
        admin.group(1): admin.group(2),
        agents.group(1): agents.group(3),
        agents.group(2): agents.group(3),
    }


def snapshot() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "configs": VoiceConfig.objects.count(),
        "ivr": IvrOption.objects.count(),
        "lines": PhoneLine.objects.count(),
        "agents": VoiceAgent.objects.count(),
    }


@pytest.fixture
def demo(db):
    call_command("load_demo", stdout=io.StringIO())


def test_it_creates_the_config_line_two_agents_and_admin_the_readme_describes(demo):
    config = VoiceConfig.objects.get(name="Demo support")
    line = PhoneLine.objects.get(name="Demo main line")

    assert line.phone_number == "+14155550100" and "+14155550100" in README
    assert line.config == config and line.enabled
    assert config.ivr_options.count() == 2
    assert sorted(agent.user.username for agent in line.agents.all()) == ["alice", "bob"]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert "Demo support" in README and "Demo main line" in README


def test_running_it_again_changes_nothing(demo):
    before = snapshot()

    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())

    assert snapshot() == before == {"users": 3, "configs": 1, "ivr": 2, "lines": 1, "agents": 2}


def test_it_keeps_a_password_someone_changed(demo):
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-by-the-owner-42")
    admin.save()

    call_command("load_demo", stdout=io.StringIO())

    admin.refresh_from_db()
    assert admin.check_password("changed-by-the-owner-42")


def test_the_readme_admin_credentials_log_in_to_the_admin(demo):
    username, password = next(iter(readme_credentials().items()))
    client = Client()

    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})

    assert response.status_code == 302, response.content[:500]
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("username", ["alice", "bob"])
def test_the_readme_agent_credentials_get_a_token_that_sees_their_own_record(demo, username):
    password = readme_credentials()[username]

    login = APIClient().post("/api/auth/token", {"username": username, "password": password}, format="json")

    assert login.status_code == 200, login.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    agents = client.get("/voiceconfig/voiceagents").json()["results"]
    assert [agent["identity"] for agent in agents] == [username]


def test_the_readme_opens_with_the_two_commands_and_what_to_open():
    opening = README[:1500]

    assert "make run" in opening and "make test" in opening
    assert "http://127.0.0.1:8000/admin/" in README and "http://127.0.0.1:8000/api/docs/" in README
