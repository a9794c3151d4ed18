"""Property-based fuzz of every Twilio-facing URL (hypothesis).

Whatever a correctly signed request carries (Twilio's fields with absurd values, fields missing, unicode,
NUL bytes, huge values, unknown fields, the spec's camelCase names), the answer is never a 500: it is valid
TwiML (or the JSON envelope holding valid TwiML) or a 4xx. And any tampering with the signature is a 403.

Bounded and deterministic by default (derandomized, FUZZ_EXAMPLES examples per property); raise FUZZ_EXAMPLES
locally to search harder.
"""

import os
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import call_sid
from tests.twilio.signing import WEBHOOK_NAMES, twilio_signature
from voiceconfig.models import Call, CallStatus

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


KNOWN_CALL = call_sid(0xF00D)
LINE_NUMBER = "+14155550100"

# The fields Twilio sends to voice webhooks and callbacks, and the spec's camelCase spellings of a few.
TWILIO_FIELDS = [
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "Caller",
    "Called",
    "CallStatus",
    "Direction",
    "ApiVersion",
    "Digits",
    "SpeechResult",
    "Confidence",
    "FinishedOnKey",
    "SequenceNumber",
    "Timestamp",
    "CallDuration",
    "Duration",
    "ParentCallSid",
    "ConferenceSid",
    "FriendlyName",
    "StatusCallbackEvent",
    "ParticipantLabel",
    "Hold",
    "Muted",
    "RecordingUrl",
    "RecordingSid",
    "RecordingDuration",
    "RecordingStatus",
    "DialCallStatus",
    "DialCallSid",
    "DialCallDuration",
    "QueueTime",
    "ErrorCode",
    "ErrorUrl",
    "callSid",
    "callStatus",
    "digits",
    "from",
    "to",
]

PLAUSIBLE = st.sampled_from(
    [
        "",
        KNOWN_CALL,
        call_sid(0xBEEF),
        "CA" + "z" * 32,
        LINE_NUMBER,
        "+14155550123",
        "client:alice",
        *[status.value for status in CallStatus],
        "answered",
        "participant-join",
        "participant-leave",
        "conference-end",
        "inbound",
        "outbound-dial",
        "1",
        "2",
        "9",
        "#",
        "*",
        "0123456789#",
        "-1",
        "2147483648",
        "99999999999999999999999",
        "1e308",
        "NaN",
        "Fri, 27 Nov 2026 06:00:00 +0000",
        "not a date",
        "true",
        "false",
        "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE123",
        "javascript:alert(1)",
    ]
)
WEIRD = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=10),
    st.sampled_from(["\x00", "CA\x00" + "0" * 30, "\u202e\u0000\ufeff", "\U0001f4de" * 50, "<Response/>", "]]>"]),
    st.builds(lambda char, n: char * n, st.sampled_from(["9", "x", "\u00e9", "\U0001f600"]), st.integers(200, 70_000)),
)
VALUES = st.one_of(PLAUSIBLE, PLAUSIBLE, WEIRD)
FORMS = st.dictionaries(
    st.one_of(st.sampled_from(TWILIO_FIELDS), st.text(min_size=1, max_size=20)), VALUES, max_size=12
)
QUERIES = st.dictionaries(
    st.sampled_from(["callSid", "agent", "attempt", "leg", "stage", "transfer", "x"]), VALUES, max_size=3
)

# Verbs and nouns Twilio accepts in a voice <Response>.
TWIML_ELEMENTS = {
    "Response",
    "Say",
    "Play",
    "Pause",
    "Gather",
    "Dial",
    "Enqueue",
    "Hangup",
    "Redirect",
    "Reject",
    "Record",
    "Leave",
    "Connect",
    "Refer",
    "Start",
    "Stop",
    "Number",
    "Client",
    "Conference",
    "Queue",
    "Sip",
    "Identity",
    "Parameter",
    "Stream",
    "Siprec",
    "Task",
    "Sms",
    "Pay",
    "Prompt",
    "prosody",
    "break",
    "emphasis",
    "lang",
    "p",
    "phoneme",
    "s",
    "say-as",
    "sub",
    "w",
}


def assert_valid_twiml(text: str) -> None:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "Response", text[:200]
    unknown = {element.tag for element in root.iter()} - TWIML_ELEMENTS
    assert not unknown, f"not TwiML: {unknown} in {text[:300]}"


def assert_answer_is_twiml_or_4xx(response) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        return
    assert response.status_code == 200, response.status_code
    if response["Content-Type"].startswith("application/json"):
        assert_valid_twiml(response.json()["data"])
    else:
        assert response["Content-Type"].startswith("text/xml"), response["Content-Type"]
        assert_valid_twiml(response.content.decode("utf-8"))


def post_form(path: str, form: dict, *, query: dict | None = None, signature: str | None = "sign", accept: str = ""):
    """POST `form` urlencoded, as Twilio does; signature "sign" means correctly signed for the test server."""
    form = {key: str(value) for key, value in form.items()}
    if query:
        path = f"{path}?{urlencode(query)}"
    if signature == "sign":
        signature = twilio_signature("http://testserver" + path, form)
    headers = {} if signature is None else {"HTTP_X_TWILIO_SIGNATURE": signature}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    return Client(raise_request_exception=False).post(
        path, urlencode(form), content_type="application/x-www-form-urlencoded", **headers
    )


@pytest.fixture
def calls_in_every_stage(db, line, make_agent):
    """A line, an agent and a known call, so fuzzed requests also reach the code paths of existing calls."""
    make_agent("fuzzy", status="available")
    Call.objects.create(call_sid=KNOWN_CALL, from_number="+14155550123", to_number=LINE_NUMBER, phone_line=line)
    return line


@pytest.mark.parametrize("name", WEBHOOK_NAMES)
def test_fuzzed_but_signed_requests_never_get_a_server_error(name, calls_in_every_stage):
    path = reverse(name)

    @FUZZ
    @given(form=FORMS, query=QUERIES, json_answer=st.booleans())
    def check(form, query, json_answer):
        response = post_form(path, form, query=query, accept="application/json" if json_answer else "")
        # A correctly signed request is never refused for its signature (and the property is not passed vacuously).
        assert response.status_code != 403, response.content[:300]
        assert_answer_is_twiml_or_4xx(response)

    check()


TAMPERINGS = st.sampled_from(
    ["flip-a-character", "wrong-token", "changed-field", "added-field", "other-url", "missing", "empty", "garbage"]
)


@pytest.mark.parametrize("name", WEBHOOK_NAMES)
def test_any_tampered_signature_is_refused(name, calls_in_every_stage):
    path = reverse(name)

    @FUZZ
    @given(form=FORMS, tampering=TAMPERINGS, position=st.integers(0, 26))
    def check(form, tampering, position):
        form = {key: str(value) for key, value in form.items()}
        url = "http://testserver" + path
        signature = twilio_signature(url, form)
        sent = dict(form)
        if tampering == "flip-a-character":
            index = position % len(signature)
            signature = signature[:index] + ("A" if signature[index] != "A" else "B") + signature[index + 1 :]
        elif tampering == "wrong-token":
            signature = twilio_signature(url, form, token="someone-elses-auth-token")
        elif tampering == "changed-field":
            key = sorted(form)[position % len(form)] if form else "CallSid"
            sent[key] = sent.get(key, "") + "1"
        elif tampering == "added-field":
            sent["Digits" if "Digits" not in sent else "Tampered"] = "1"
        elif tampering == "other-url":
            signature = twilio_signature("https://attacker.example" + path, form)
        elif tampering == "missing":
            signature = None
        elif tampering == "empty":
            signature = ""
        else:
            signature = "not base64 at all \u00e9" * (1 + position)
        response = post_form(path, sent, signature=signature)
        assert response.status_code == 403, (tampering, response.status_code, response.content[:200])

    check()
