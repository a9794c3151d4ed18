"""`make demo` twice, after a demo call was left live (issue 12 item 3): each run completes its call with alice.

As `make demo` runs it: `manage.py load_demo`, then `manage.py simulate_call scenarios/demo.yaml` (the app under
gunicorn on its own SQLite file, the emulator in virtual time), in fresh processes. Before the first run a call is
left live with alice "In a call", as an abandoned `make run` demo left it; `make demo` then used to fail with
409 "Agent alice is on call CA...".
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LEAVE_A_CALL_LIVE = """
from django.utils import timezone
from voiceconfig.models import AgentStatus, Call, CallStage, CallStatus, PhoneLine, VoiceAgent
alice = VoiceAgent.objects.get(user__username="alice")
Call.objects.create(
    call_sid="CA" + "ab" * 16, phone_line=PhoneLine.objects.get(phone_number="+14155550100"), agent=alice,
    status=CallStatus.IN_PROGRESS, stage=CallStage.CONNECTED, queued_at=timezone.now(), answered_at=timezone.now(),
)
VoiceAgent.objects.filter(pk=alice.pk).update(status=AgentStatus.IN_CALL)
"""


def manage(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def make_demo(database_url: str) -> subprocess.CompletedProcess:
    for args in (("migrate", "--noinput"), ("load_demo",)):
        result = manage(*args, database_url=database_url)
        assert result.returncode == 0, result.stderr[-3000:]
    return manage("simulate_call", "scenarios/demo.yaml", database_url=database_url)


def test_make_demo_twice_after_a_call_was_left_live(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert make_demo(database_url).returncode == 0
    left = manage("shell", "-c", LEAVE_A_CALL_LIVE, database_url=database_url)
    assert left.returncode == 0, left.stderr[-3000:]

    for run in (1, 2):
        result = make_demo(database_url)

        assert result.returncode == 0, f"make demo run {run}:\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
        assert "call record: status=completed agent=alice" in result.stdout
        # Every request the demo makes prints "-> <status>"; the port in its first line may well contain 409.
        assert not re.search(r"-> 409\b", result.stdout) and "errors (" not in result.stdout
