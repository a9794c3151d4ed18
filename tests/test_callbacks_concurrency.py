"""50 callbacks due at once, 5 free agents, run_due_callbacks on 4 "hosts" at once. PostgreSQL only.

Each round sets 4 real processes ("hosts") running what `manage.py run_due_callbacks` runs at the same moment,
against the test database and a fake Twilio REST API (tests/twilio/servers.py). Then the rung agents answer, the
customers answer and hang up (in-process, gateway mocked), the agents are free again, and the next round runs,
until every callback is done. Proven: each customer dialled exactly once, no agent ever rung for two callbacks at
once, all 50 served.

Run it: DATABASE_URL=postgres://postgres@127.0.0.1:5432/voice_outbound \
    .venv/bin/pytest tests/test_callbacks_concurrency.py
"""

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from tests.test_routing_concurrency import server_env
from tests.twilio.fixtures import TwilioDriver
from tests.twilio.payloads import sid
from tests.twilio.servers import fake_twilio
from voiceconfig.models import (
    AgentStatus,
    Call,
    Callback,
    CallbackState,
    CallStage,
    CallStatus,
    Department,
    DepartmentMember,
    PhoneLine,
    RingStrategy,
    VoiceAgent,
    VoiceConfig,
)

CALLBACKS = 50
AGENTS = 5
HOSTS = 4
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(params=["line", "department"])
def fifty_due_callbacks(request, transactional_db, make_agent):
    """The callbacks of one line; or of a department (its strategy ranks the same five agents for every host, the
    hardest case for "never one agent twice")."""
    config = VoiceConfig.objects.create(name="Callbacks", wrap_up_seconds=0)
    line = PhoneLine.objects.create(name="Main", phone_number="+14155550100", config=config)
    agents = [make_agent(f"cbagent{n}") for n in range(AGENTS)]
    department = None
    if request.param == "department":
        department = Department.objects.create(name="Sales", strategy=RingStrategy.LINEAR)
        for n, agent in enumerate(agents):
            DepartmentMember.objects.create(department=department, agent=agent, level=1, position=n)
    now = timezone.now()
    for n in range(CALLBACKS):
        call = Call.objects.create(
            call_sid=sid("CA", 0x5000 + n),
            from_number=f"+1415555{n:04d}",
            to_number=line.phone_number,
            phone_line=line,
            status=CallStatus.COMPLETED,
            stage=CallStage.MESSAGE,
            queued_at=now - timedelta(seconds=600 - n),
        )
        Callback.objects.create(
            call=call,
            phone_line=line,
            department=department,
            customer_number=call.from_number,
            state=CallbackState.WAITING,
            queued_at=call.queued_at,
            next_attempt_at=now,
        )
    return agents


def free_agents() -> None:
    now = timezone.now()
    VoiceAgent.objects.exclude(status=AgentStatus.RINGING).update(
        status=AgentStatus.AVAILABLE, last_heartbeat_at=now, status_changed_at=now
    )


# One "host": a process that runs what `manage.py run_due_callbacks` runs each time it reads a line, and prints how
# many agents it rang. Started once for all rounds (a Django start-up per host and round cost 90 s of CI), then
# told to go at the same moment as the other hosts.
HOST_LOOP = """
import sys
from voicetwilio.callbacks import ring_due_callbacks
for _ in sys.stdin:
    print("RUNG", ring_due_callbacks(), flush=True)
"""


class Hosts:
    def __init__(self, base_url: str):
        env = {**os.environ, **server_env(base_url)}
        self.processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", HOST_LOOP],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(HOSTS)
        ]

    def run_at_once(self) -> None:
        for process in self.processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in self.processes:
            answer = process.stdout.readline()
            assert answer.startswith("RUNG"), answer  # a traceback's first line, or the host's exit ("")

    def __enter__(self) -> "Hosts":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # a failed round: no host may outlive the test (it holds the test database open)
            for process in self.processes:
                process.kill()
                process.wait()
            return
        for process in self.processes:
            process.stdin.close()  # end of input: each host's loop ends
        for process in self.processes:
            assert process.wait(timeout=60) == 0, process.stdout.read()


def answer_both_legs(driver: TwilioDriver, callback: Callback) -> Callback:
    """The rung agent answers (which dials the customer), then the customer answers and hangs up."""
    driver.post(
        "callback-leg",
        "status_callback",
        query={"callback": callback.pk, "leg": "agent"},
        CallSid=sid("CA", 0x9000 + callback.pk),
        CallStatus="in-progress",
        SequenceNumber=1,
    )
    callback.refresh_from_db()
    for seq, status in ((1, "in-progress"), (2, "completed")):
        driver.post(
            "callback-leg",
            "status_callback",
            query={"callback": callback.pk, "leg": "customer"},
            CallSid=callback.customer_call_sid,
            CallStatus=status,
            SequenceNumber=seq,
        )
    return callback


def test_50_due_callbacks_and_5_free_agents_each_customer_called_once_no_agent_twice(
    fifty_due_callbacks, client, twilio_gateway
):
    driver = TwilioDriver(client)
    customer_dials: Counter = Counter()
    rings_seen = 0
    with fake_twilio() as twilio_api:
        with Hosts(twilio_api.base_url) as hosts:
            for round_ in range(CALLBACKS // AGENTS + 2):
                free_agents()
                hosts.run_at_once()
                creates = twilio_api.participant_creates()[rings_seen:]
                rings_seen += len(creates)
                # This round: each free agent rung once, for a different callback; no agent twice.
                rung = Callback.objects.filter(state=CallbackState.RINGING_AGENT)
                if not creates:
                    break
                assert len(creates) == rung.count() <= AGENTS, f"round {round_}"
                assert len({form["To"] for _, form in creates}) == len(creates)
                assert len(set(rung.values_list("agent_id", flat=True))) == rung.count()
                for _, form in creates:
                    callback_id = parse_qs(urlsplit(form["StatusCallback"]).query)["callback"][0]
                    callback = answer_both_legs(driver, Callback.objects.get(pk=callback_id))
                    customer_dials[callback.customer_number] += 1
        overlapped = twilio_api.max_in_flight

    assert Callback.objects.filter(state=CallbackState.COMPLETED).count() == CALLBACKS
    assert len(customer_dials) == CALLBACKS and set(customer_dials.values()) == {1}
    assert [kwargs.kwargs["to"] for kwargs in twilio_gateway.add_participant.call_args_list] == list(customer_dials)
    assert rings_seen == CALLBACKS
    # The hosts really ran at the same time (several rings in flight at once), or this proved nothing.
    assert overlapped > 1
