"""A real database outage: nothing is answered as stored unless it is stored (docs/webhooks.md).

The app runs under gunicorn (2 workers x 2 threads, persistent connections as in production) and reaches
PostgreSQL through a TCP proxy (tests/faults.py) that the test cuts: open connections are dropped mid-query and
new ones refused, as when the database crashes or the network between them fails. Twilio is played by signed
HTTP requests. Numbers measured are printed (run with -s to see them).
"""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.faults import TcpProxy
from tests.twilio.payloads import payload
from tests.twilio.signing import twilio_signature
from twilio_emulator.appserver import AppServer, free_port
from voiceconfig.models import Call, CallEvent, CallLog, CallStatus, PhoneLine, VoiceConfig
from voicetwilio.links import without_overrides
from voicetwilio.webhooks.fallback import fallback_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RATE_PER_SECOND = 30
BURST_SECONDS = 8
OUTAGE_STARTS_AT = 2.5
OUTAGE_SECONDS = 3.0
LINE_NUMBER = "+14155550100"


def sid(prefix: str, n: int) -> str:
    return f"{prefix}{n:032x}"


@pytest.fixture
def line(transactional_db) -> PhoneLine:
    config = VoiceConfig.objects.create(name="Support", voicemail_max_seconds=60)
    return PhoneLine.objects.create(name="Main", phone_number=LINE_NUMBER, config=config)


@pytest.fixture
def proxy(transactional_db):
    database = connection.settings_dict
    proxy = TcpProxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def app(proxy, line, tmp_path):
    """gunicorn on the test database (pytest-django's, committed by transactional_db), through the proxy."""
    database = connection.settings_dict
    password = f":{quote(database['PASSWORD'], safe='')}" if database["PASSWORD"] else ""
    url = f"postgres://{database['USER']}{password}@127.0.0.1:{proxy.port}/{database['NAME']}"
    server = AppServer(
        port=free_port(),
        env={"DATABASE_URL": url, "DJANGO_CONN_MAX_AGE": "60", "GUNICORN_LOG_FORMAT": "text"},
        log_path=tmp_path / "gunicorn.log",
        workers=2,
        threads=2,
    )
    server.start()
    yield server
    server.stop()


class Twilio:
    """Posts signed webhooks to the app as Twilio does, one requests.Session per thread."""

    def __init__(self, app_url: str):
        self.app_url = app_url
        self._local = threading.local()

    def post(self, url: str, params: dict) -> requests.Response | None:
        """POST to `url` (absolute, or a path on the app); None when no HTTP answer came at all."""
        url = without_overrides(url if url.startswith("http") else self.app_url + url)
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        try:
            return session.post(
                url, data=params, headers={"X-Twilio-Signature": twilio_signature(url, params)}, timeout=20
            )
        except requests.RequestException:
            return None

    def completed(self, call_sid: str) -> int:
        """The caller's `completed` status callback: the HTTP status answered (0 for no answer)."""
        params = payload("status_callback", CallSid=call_sid, CallStatus="completed", SequenceNumber=3, To=LINE_NUMBER)
        response = self.post("/voicetwilio/statuscallback", params)
        return response.status_code if response is not None else 0


def calls_in_progress(line: PhoneLine, count: int, *, first: int = 1) -> list[str]:
    sids = [sid("CA", n) for n in range(first, first + count)]
    Call.objects.bulk_create(
        Call(call_sid=call_sid, status=CallStatus.IN_PROGRESS, phone_line=line, to_number=LINE_NUMBER)
        for call_sid in sids
    )
    return sids


def completed_logs() -> Counter:
    """How many times each call's `completed` callback is stored."""
    return Counter(
        CallLog.objects.filter(event=CallEvent.STATUS, call_status=CallStatus.COMPLETED).values_list(
            "call_sid", flat=True
        )
    )


def refused_lines(app: AppServer) -> list[str]:
    return [entry for entry in app.log_path.read_text().splitlines() if "database unavailable" in entry]


def test_a_burst_of_callbacks_through_a_database_outage_loses_nothing(app, proxy, line):
    twilio = Twilio(app.url)
    sids = calls_in_progress(line, RATE_PER_SECOND * BURST_SECONDS)
    answers: dict[str, int] = {}
    answered_at: dict[str, float] = {}
    start = time.monotonic()

    def send(index: int, call_sid: str) -> None:
        time.sleep(max(0.0, start + index / RATE_PER_SECOND - time.monotonic()))
        answers[call_sid] = twilio.completed(call_sid)
        answered_at[call_sid] = time.monotonic() - start

    def outage() -> None:
        time.sleep(OUTAGE_STARTS_AT)
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()

    cutter = threading.Thread(target=outage)
    cutter.start()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(send, range(len(sids)), sids))
    cutter.join()

    stored = completed_logs()
    codes = Counter(answers.values())
    refused = [call_sid for call_sid, code in answers.items() if not 200 <= code < 300]
    print(f"\nburst: {len(sids)} callbacks at {RATE_PER_SECOND}/s, database cut for {OUTAGE_SECONDS:g} s: {codes}")
    print(f"stored during the burst: {len(stored)}; refused: {len(refused)}")
    after_restore = [t for s, t in answered_at.items() if 200 <= answers[s] < 300 and t > OUTAGE_STARTS_AT + 0.5]
    if after_restore:
        print(f"first 2xx after the cut began: {min(after_restore) - OUTAGE_STARTS_AT:.2f} s")

    # Every 2xx is stored; everything not stored was answered 5xx (so Twilio retries it).
    assert all(call_sid in stored for call_sid, code in answers.items() if 200 <= code < 300)
    assert all(500 <= answers[call_sid] < 600 for call_sid in sids if call_sid not in stored)
    assert len(refused) >= RATE_PER_SECOND, "the outage should have refused about a cut's worth of callbacks"
    assert codes.keys() <= {200, 503}
    # One log line per refusal, with the CallSid.
    logged = refused_lines(app)
    assert len([entry for entry in logged if "/voicetwilio/statuscallback" in entry]) == len(refused)
    assert all(any(f"CallSid={call_sid}" in entry for entry in logged) for call_sid in refused[:10])

    # Twilio delivers the refused ones again: nothing missing, nothing doubled.
    for call_sid in refused:
        assert twilio.completed(call_sid) == 200
    stored = completed_logs()
    assert set(stored) == set(sids) and set(stored.values()) == {1}
    assert Call.objects.filter(call_sid__in=sids).exclude(status=CallStatus.COMPLETED).count() == 0


def test_after_a_short_outage_without_traffic_stale_connections_lose_nothing(app, proxy, line):
    twilio = Twilio(app.url)
    warm_up = calls_in_progress(line, 16, first=1000)
    sids = calls_in_progress(line, 12, first=2000)
    # Every worker thread opens its persistent connection (CONN_MAX_AGE) ...
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(twilio.completed, warm_up)) == {200}
    connections_before = proxy.connections_accepted
    # ... which the outage kills while nobody calls.
    proxy.cut()
    time.sleep(1)
    proxy.restore()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(twilio.completed, sids))

    reconnected = proxy.connections_accepted - connections_before
    print(f"\nafter a 1 s outage: {Counter(answers)}; new connections {reconnected}")
    # CONN_HEALTH_CHECKS: a dead connection is replaced before the first query, so nothing is even refused.
    assert answers == [200] * len(sids)
    stored = completed_logs()
    assert all(stored[call_sid] == 1 for call_sid in sids)
    assert proxy.connections_accepted > connections_before


def test_a_call_during_the_outage_gets_the_fallback_and_its_voicemail_is_stored_afterwards(app, proxy, line):
    twilio = Twilio(app.url)
    call_sid = sid("CA", 3000)
    voice = payload("voice", CallSid=call_sid, To=LINE_NUMBER, Called=LINE_NUMBER)
    fallback = fallback_url(line).removeprefix(settings.TWILIO_WEBHOOK_BASE_URL or "http://127.0.0.1:8000")

    proxy.cut()
    try:
        refused = twilio.post("/voicetwilio/voice", voice)
        # Twilio then asks the line's fallback URL, which needs no database.
        answer = twilio.post(fallback, {**voice, "ErrorCode": "11200", "ErrorUrl": app.url + "/voicetwilio/voice"})
        recording_callback = answer.text.split('recordingStatusCallback="')[1].split('"')[0].replace("&amp;", "&")
        recording = payload(
            "recording",
            CallSid=call_sid,
            RecordingSid=sid("RE", 1),
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{sid('RE', 1)}",
            RecordingStatus="completed",
        )
        while_down = twilio.post(recording_callback, recording)
        # A caller already waiting in a conference keeps hearing the hold music, and its URL asks again later.
        waiting_sid = sid("CA", 3001)
        waiting = twilio.post(f"/voicetwilio/queuewait?callSid={waiting_sid}", payload("voice", CallSid=waiting_sid))
    finally:
        proxy.restore()

    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/xml")
    assert "We are sorry" in answer.text and "<Record " in answer.text
    assert while_down.status_code == 503
    assert waiting.status_code == 200 and "<Redirect" in waiting.text and "queuewait" in waiting.text
    # Twilio's retry of the recording callback, once the database is back, stores the message.
    assert twilio.post(recording_callback, recording).status_code == 200
    log = CallLog.objects.get(call_sid=call_sid)
    assert log.data["RecordingSid"] == sid("RE", 1)
