"""The measured requests and the rows they need: every request distinct and signed as Twilio signs it.

- incoming: `POST /voicetwilio/voice` for a new CallSid each time, on a line whose agents are all offline,
  so each call is recorded, routed (nobody free) and answered with queue TwiML: the busy-line case, and the
  path that needs no Twilio REST call.
- status: `POST /voicetwilio/statuscallback`, `completed` for a different in-progress call each time.
- gather: `POST /voicetwilio/gather`, the caller of a different call in the IVR pressing 1 (route to an agent).
- list: `GET /voiceconfig/calls` (50 per page, the default) as staff with a JWT.
- baseline-read / baseline-read-insert: the bench-only views (bench/views.py) with a status callback's body.
"""

import itertools
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime

from .common import HOST, signed_form_request
from .loadgen import raw_request

ACCOUNT_SID = "AC" + "b" * 32
LINE_NUMBER = "+15005550100"
IVR_LINE_NUMBER = "+15005550101"
CALLER = "+14155550123"
LIST_CALLS = 200

_sids = itertools.count(1)


def new_call_sid(prefix: int) -> str:
    """Unique across the whole run: a scenario prefix and a counter in the 32 hex digits."""
    return "CA" + f"{prefix:04x}{next(_sids):028x}"


@dataclass
class Seeded:
    staff_token: str
    status_sids: list[str]
    gather_sids: list[str]


def seed(*, status_calls: int, gather_calls: int) -> Seeded:
    """Rows the scenarios need, written with the ORM straight into the bench database."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from voiceconfig import services
    from voiceconfig.models import (
        AgentStatus,
        Call,
        CallDirection,
        CallStage,
        CallStatus,
        IvrAction,
        IvrOption,
        PhoneLine,
        VoiceConfig,
    )

    users = get_user_model().objects
    staff = users.create_user(username="bench-staff", password="bench-pass-123", is_staff=True, is_superuser=True)
    agents = [
        services.agent_create(user=users.create_user(username=f"bench-agent-{n}"), status=AgentStatus.OFFLINE)
        for n in range(5)
    ]
    config = VoiceConfig.objects.create(name="Bench", greeting_text="Thank you for calling the bench.")
    line = PhoneLine.objects.create(name="Bench", phone_number=LINE_NUMBER, config=config)
    ivr_config = VoiceConfig.objects.create(
        name="Bench IVR", greeting_text="Welcome.", ivr_prompt="Press 1 for sales, 2 for our address."
    )
    IvrOption.objects.create(config=ivr_config, digit="1", keywords="sales", label="for sales", action=IvrAction.ROUTE)
    IvrOption.objects.create(
        config=ivr_config, digit="2", label="for our address", action=IvrAction.MESSAGE, message="We are at 1 Main St."
    )
    ivr_line = PhoneLine.objects.create(name="Bench IVR", phone_number=IVR_LINE_NUMBER, config=ivr_config)
    line.agents.set(agents)
    ivr_line.agents.set(agents)

    now = timezone.now()
    history = [
        Call(
            call_sid=new_call_sid(1),
            from_number=CALLER,
            to_number=LINE_NUMBER,
            direction=CallDirection.INBOUND,
            status=CallStatus.COMPLETED,
            phone_line=line,
            started_at=now - timedelta(minutes=n + 5),
            answered_at=now - timedelta(minutes=n + 4),
            ended_at=now - timedelta(minutes=n),
            talk_seconds=240,
        )
        for n in range(LIST_CALLS)
    ]

    def live(prefix: int, on_line: PhoneLine, count: int, **fields) -> list[Call]:
        return [
            Call(
                **fields,
                call_sid=new_call_sid(prefix),
                from_number=CALLER,
                to_number=on_line.phone_number,
                direction=CallDirection.INBOUND,
                status=CallStatus.IN_PROGRESS,
                phone_line=on_line,
                started_at=now,
                last_sequence_number=0,
            )
            for _ in range(count)
        ]

    status_rows = live(2, line, status_calls)
    # Callers who heard the menu once (as the voice webhook leaves them): their key press is an IVR choice.
    gather_rows = live(3, ivr_line, gather_calls, stage=CallStage.IVR, ivr_attempts=1)
    Call.objects.bulk_create(history + status_rows + gather_rows, batch_size=5000)
    return Seeded(
        staff_token=str(AccessToken.for_user(staff)),
        status_sids=[call.call_sid for call in status_rows],
        gather_sids=[call.call_sid for call in gather_rows],
    )


def _common(call_sid: str, to: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "From": CALLER,
        "Caller": CALLER,
        "To": to,
        "Called": to,
        "Direction": "inbound",
        "FromCountry": "US",
        "ToCountry": "US",
    }


def incoming_requests(port: int, count: int) -> list[bytes]:
    return [
        signed_form_request(
            port=port,
            path="/voicetwilio/voice",
            params={**_common(new_call_sid(4), LINE_NUMBER), "CallStatus": "ringing"},
        )
        for _ in range(count)
    ]


def status_params(call_sid: str, *, status: str = "completed", sequence: int = 3, duration: int = 42) -> dict:
    from django.utils import timezone

    return {
        **_common(call_sid, LINE_NUMBER),
        "CallStatus": status,
        "CallDuration": str(duration),
        "Duration": str(max(1, duration // 60)),
        "SequenceNumber": str(sequence),
        "Timestamp": format_datetime(timezone.now(), usegmt=True),
        "CallbackSource": "call-progress-events",
    }


def status_requests(port: int, call_sids: list[str]) -> list[bytes]:
    return [
        signed_form_request(port=port, path="/voicetwilio/statuscallback", params=status_params(sid))
        for sid in call_sids
    ]


def gather_requests(port: int, call_sids: list[str]) -> list[bytes]:
    return [
        signed_form_request(
            port=port,
            path="/voicetwilio/gather",
            params={**_common(sid, IVR_LINE_NUMBER), "CallStatus": "in-progress", "Digits": "1", "FinishedOnKey": ""},
        )
        for sid in call_sids
    ]


def list_requests(port: int, token: str, count: int) -> list[bytes]:
    raw = raw_request(
        host=f"{HOST}:{port}",
        method="GET",
        path="/voiceconfig/calls",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    return [raw] * count


def baseline_requests(port: int, path: str, call_sids: list[str]) -> list[bytes]:
    """A status callback's body for existing calls: the read finds its row, like a webhook's does."""
    return [signed_form_request(port=port, path=path, params=status_params(sid)) for sid in call_sids]
