"""Property: whatever JSON body or query string a client sends to the REST API, the answer is never a 500.

Hypothesis builds bodies from each resource's own field names with values of any JSON type (huge and negative
numbers, NaN, odd Unicode, nested arrays and objects), and query strings from each list's own filter names.
Every 4xx must be the envelope. Derandomized, so CI runs the same examples every time.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import call_sid
from tests.test_api_errors import FILTERSETS, RESOURCES, assert_envelope, field_names
from voiceconfig.models import Call, CallLog, CallStatus

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "0", "-1", "1e400", "+14155550100", "CA" + "0" * 32, "2026-02-30", "25:61", "\x00"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def bodies(resource: str):
    # Every field name, read-only ones included: a write to those must be refused, never a 500.
    names = st.sampled_from(field_names(resource)) | st.text(max_size=12)
    return st.dictionaries(names, json_values, max_size=6) | json_values


@pytest.fixture
def world(line, agent):
    call = Call.objects.create(call_sid=call_sid(1), agent=agent, phone_line=line, status=CallStatus.COMPLETED)
    log = CallLog.objects.create(call=call, call_sid=call.call_sid, message="hello")
    return {
        "configs": line.config_id,
        "phonelines": line.pk,
        "voiceagents": agent.pk,
        "calls": call.pk,
        "calllogs": log.pk,
    }


@pytest.mark.parametrize("resource", RESOURCES)
def test_no_json_body_makes_the_api_fail(staff_client, world, resource):
    @FUZZ
    @given(body=bodies(resource))
    def check(body):
        payload = json.dumps(body, allow_nan=True)
        for method, url in (
            ("post", f"/voiceconfig/{resource}"),
            ("patch", f"/voiceconfig/{resource}/{world[resource]}"),
        ):
            response = getattr(staff_client, method)(url, data=payload, content_type="application/json")
            assert response.status_code < 500, (method, payload[:300], response.content[:300])
            if response.status_code >= 400:
                assert_envelope(response)

    check()


@pytest.mark.parametrize("resource", RESOURCES)
def test_no_query_string_makes_a_list_fail(staff_client, world, resource):
    names = st.sampled_from([*FILTERSETS[resource].base_filters, "search", "page", "pageSize"]) | st.text(max_size=8)

    @FUZZ
    @given(query=st.dictionaries(names, st.text(max_size=30) | st.integers().map(str), max_size=4))
    def check(query):
        response = staff_client.get(f"/voiceconfig/{resource}", query)
        assert response.status_code < 500, (query, response.content[:300])
        if response.status_code >= 400:
            assert_envelope(response, 400, 404)

    check()
