"""Callbacks and missed calls over REST (issue 19)."""

from django.urls import reverse
from django.utils import timezone

from tests.conftest import api_client_for, make_user
from tests.twilio.payloads import sid
from voiceconfig.models import Call, Callback, CallbackState, CallStage, CallStatus


def make_callback(line, n: int, state: str, agent=None) -> Callback:
    call = Call.objects.create(
        call_sid=sid("CA", n),
        from_number=f"+1415555{n:04d}",
        phone_line=line,
        status=CallStatus.COMPLETED,
        stage=CallStage.MESSAGE,
        queued_at=timezone.now(),
    )
    return Callback.objects.create(
        call=call,
        phone_line=line,
        customer_number=call.from_number,
        state=state,
        queued_at=call.queued_at,
        next_attempt_at=timezone.now(),
        agent=agent,
    )


def test_staff_list_callbacks_filtered_by_state(staff_client, line):
    waiting = make_callback(line, 1, CallbackState.WAITING)
    make_callback(line, 2, CallbackState.COMPLETED)

    body = staff_client.get("/voiceconfig/callbacks", {"state": "waiting"}).json()

    assert [row["id"] for row in body["results"]] == [waiting.pk]
    assert body["results"][0]["customerNumber"] == waiting.customer_number
    assert body["results"][0]["callSid"] == waiting.call.call_sid


def test_an_unknown_state_is_a_400_with_the_error_shape(staff_client, db):
    response = staff_client.get("/voiceconfig/callbacks", {"state": "lost"})

    assert response.status_code == 400
    assert {"error", "message"} <= set(response.json())


def test_an_agent_sees_only_the_callbacks_they_handled_and_cannot_write(agent_client, agent, line):
    mine = make_callback(line, 1, CallbackState.DIALING, agent=agent)
    make_callback(line, 2, CallbackState.WAITING)

    assert [row["id"] for row in agent_client.get("/voiceconfig/callbacks").json()["results"]] == [mine.pk]
    assert agent_client.post("/voiceconfig/callbacks", {}, format="json").status_code == 405


def test_a_user_who_is_neither_staff_nor_agent_is_refused(db):
    client = api_client_for(make_user("visitor"))

    assert client.get("/voiceconfig/callbacks").status_code == 403
    assert client.get("/voiceconfig/missedcalls").status_code == 403


def test_missed_calls_list_abandoned_and_voicemail_not_yet_returned_and_done_by_hand(agent_client, line):
    abandoned = Call.objects.create(
        call_sid=sid("CA", 1), phone_line=line, status="completed", stage=CallStage.ABANDONED
    )
    voicemail = Call.objects.create(
        call_sid=sid("CA", 2), phone_line=line, status="completed", stage=CallStage.VOICEMAIL, voicemail=True
    )
    Call.objects.create(call_sid=sid("CA", 3), phone_line=line, status="completed", stage=CallStage.CONNECTED)

    listed = agent_client.get("/voiceconfig/missedcalls").json()["results"]
    assert [row["id"] for row in listed] == [voicemail.pk, abandoned.pk]

    response = agent_client.post(f"/voiceconfig/missedcalls/{abandoned.pk}/done")
    assert response.status_code == 200 and response.json()["followedUpAt"]
    assert [row["id"] for row in agent_client.get("/voiceconfig/missedcalls").json()["results"]] == [voicemail.pk]
    again = agent_client.post(f"/voiceconfig/missedcalls/{abandoned.pk}/done")
    assert again.status_code == 404 and {"error", "message"} <= set(again.json())


def test_the_admin_lists_callbacks_and_the_overview_counts_those_to_make(admin_client, line):
    make_callback(line, 1, CallbackState.WAITING)
    make_callback(line, 2, CallbackState.DIALING)
    make_callback(line, 3, CallbackState.COMPLETED)

    listing = admin_client.get("/admin/voiceconfig/callback/?state__exact=waiting")
    overview = admin_client.get(reverse("voice-overview"))

    assert listing.status_code == 200 and b"+14155550001" in listing.content
    assert overview.status_code == 200
    assert overview.context["callbacks_waiting_count"] == 2


def test_staff_set_the_outbound_and_callback_rules_of_a_config_over_rest(staff_client, config):
    response = staff_client.patch(
        f"/voiceconfig/configs/{config.pk}",
        {"outboundCountryCodes": "1, 44", "outboundCallsPerAgentHour": 5, "callbackOfferAfterSeconds": 90},
        format="json",
    )

    assert response.status_code == 200, response.json()
    config.refresh_from_db()
    assert (config.outbound_country_codes, config.outbound_calls_per_agent_hour) == ("1, 44", 5)
    assert config.callback_offer_after_seconds == 90
    bad = staff_client.patch(f"/voiceconfig/configs/{config.pk}", {"callbackMaxAttempts": 0}, format="json")
    assert bad.status_code == 400 and {"error", "message"} <= set(bad.json())
