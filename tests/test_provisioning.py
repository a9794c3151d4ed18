"""Lines that configure Twilio themselves (issue 15), against the local Twilio emulator over real HTTP.

The emulated account owns OWNED, with nothing configured on it; provisioning is on and the public base URL set.
"""

import re
from dataclasses import replace
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.conftest import make_user
from twilio_emulator.factory import Credentials, build
from twilio_emulator.people import Directory
from voiceconfig.models import PhoneLine
from voicetwilio import gateway

OWNED = "+14155550100"
NOT_OWNED = "+14155550199"
FOR_SALE = "+14155550150"
QUOTED = quote(FOR_SALE)
BASE = "https://voice.example.com"
# A number bought before its line exists: the bare fallback URL until the line is saved.
WANTED = gateway.NumberUrls(
    voice_url=f"{BASE}/voicetwilio/voice",
    voice_fallback_url=f"{BASE}/voicetwilio/fallback",
    status_callback=f"{BASE}/voicetwilio/statuscallback#rc=5&rp=ct,rt,5xx&tt=15000",
)
# A line on the `config` fixture's defaults: the fallback answers from its query string while the database is down.
OWNED_FALLBACK = (
    f"{BASE}/voicetwilio/fallback?line=%2B14155550100&voice=Polly.Joanna&language=en-US&voicemail=1&maxSeconds=120"
)
WANTED_FOR_LINE = replace(WANTED, voice_fallback_url=OWNED_FALLBACK)
URL = "/voiceconfig/phonelines"
CREDENTIALS = Credentials()


@pytest.fixture
def twilio(db):
    """The emulated Twilio account; the app points at it, with provisioning on."""
    server = build(
        app_url=BASE, credentials=CREDENTIALS, directory=Directory(), account_numbers=[OWNED], provisioned=False
    )
    server.start()
    with override_settings(**CREDENTIALS.env(server.url), TWILIO_PROVISIONING=True, TWILIO_WEBHOOK_BASE_URL=BASE):
        gateway._client_for.cache_clear()
        yield server
    gateway._client_for.cache_clear()
    server.stop()


def owned(server, phone_number: str = OWNED):
    return next(n for n in server.world.owned_numbers.values() if n.phone_number == phone_number)


def urls_of(server, phone_number: str = OWNED) -> gateway.NumberUrls:
    number = owned(server, phone_number)
    return gateway.NumberUrls(number.voice_url, number.voice_fallback_url, number.status_callback)


def number_updates(server) -> list[str]:
    return [e.text for e in server.world.timeline.entries if e.text.startswith("IncomingPhoneNumbers.update")]


def sync() -> tuple[str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("twilio_sync", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- attach on save (REST) -----------------------------------------------------------------------------------
def test_saving_an_enabled_line_sends_one_update_with_the_three_urls_and_stores_the_sid(twilio, staff_client, config):
    response = staff_client.post(URL, {"name": "Main", "phoneNumber": OWNED, "config": config.pk}, format="json")

    assert response.status_code == 201, response.content
    assert len(number_updates(twilio)) == 1
    assert urls_of(twilio) == WANTED_FOR_LINE
    assert response.json()["twilioSid"] == owned(twilio).sid
    assert PhoneLine.objects.get().twilio_sid == owned(twilio).sid


def test_a_number_not_on_the_account_is_refused_with_a_sentence_and_nothing_is_saved(twilio, staff_client, config):
    response = staff_client.post(URL, {"name": "Main", "phoneNumber": NOT_OWNED, "config": config.pk}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert f"{NOT_OWNED} is not one of the Twilio account's phone numbers" in body["message"]
    assert body["details"]["phoneNumber"][0].startswith(f"{NOT_OWNED} is not one of the Twilio account's")
    assert not PhoneLine.objects.exists()


def test_a_disabled_line_is_saved_without_touching_its_number(twilio, staff_client, config):
    response = staff_client.post(
        URL, {"name": "Main", "phoneNumber": NOT_OWNED, "config": config.pk, "enabled": False}, format="json"
    )

    assert response.status_code == 201, response.content
    assert number_updates(twilio) == []


def test_a_number_answered_by_a_twiml_application_is_refused(twilio, staff_client, config):
    owned(twilio).voice_application_sid = "AP" + "1" * 32

    response = staff_client.post(URL, {"name": "Main", "phoneNumber": OWNED, "config": config.pk}, format="json")

    assert response.status_code == 400
    assert "answered by the TwiML application" in response.json()["message"]
    assert number_updates(twilio) == []


def test_twilio_down_is_a_502_and_the_line_is_not_half_saved(twilio, staff_client, line):
    twilio.stop()  # a real outage: nothing listens on the emulator's port any more

    response = staff_client.patch(f"{URL}/{line.pk}", {"name": "Renamed"}, format="json")

    assert response.status_code == 502
    assert response.json()["error"] == "twilio_error"
    line.refresh_from_db()
    assert (line.name, line.twilio_sid) == ("Main", "")


# --- check and repair ------------------------------------------------------------------------------------------
def test_a_drifted_number_shows_in_the_admin_and_the_sync_repairs_it(twilio, staff_client, admin_client, config):
    """The scenario: a line is saved (in sync), someone edits the number in Twilio's console, the admin shows the
    drift, twilio_sync repairs it and prints what it changed, and a second run changes nothing."""
    assert (
        staff_client.post(URL, {"name": "Main", "phoneNumber": OWNED, "config": config.pk}, format="json").status_code
        == 201
    )
    assert "In sync" in admin_client.get("/admin/voiceconfig/phoneline/").content.decode()

    owned(twilio).voice_url = "https://old-vendor.example.com/voice"  # edited by hand in Twilio's console
    page = admin_client.get("/admin/voiceconfig/phoneline/").content.decode()
    assert "Drifted" in page and "old-vendor.example.com" in page

    out, _ = sync()
    assert f"{OWNED} (Main): changed VoiceUrl https://old-vendor.example.com/voice -> {WANTED.voice_url}" in out
    assert urls_of(twilio) == WANTED_FOR_LINE
    assert len(number_updates(twilio)) == 2  # the save, then the repair

    out, _ = sync()
    assert out.strip() == "Nothing to change: every line and the TwiML application are in sync."
    assert len(number_updates(twilio)) == 2


def test_the_sync_on_a_synced_account_changes_nothing(twilio, line):
    out, _ = sync()  # the first run points the number at us and records its SID
    assert "VoiceUrl (empty) -> " in out and "SID (empty) -> PN" in out
    before = len(number_updates(twilio))

    out, _ = sync()

    assert out.strip() == "Nothing to change: every line and the TwiML application are in sync."
    assert len(number_updates(twilio)) == before


def test_the_sync_reports_a_line_whose_number_is_not_on_the_account(twilio, config):
    PhoneLine.objects.create(name="Ghost", phone_number=NOT_OWNED, config=config)

    with pytest.raises(CommandError, match=re.escape(f"{NOT_OWNED} is not on the account")):
        sync()


def test_the_admin_lists_every_line_state_from_one_listing_of_the_account(twilio, admin_client, config, monkeypatch):
    PhoneLine.objects.create(name="Ghost", phone_number=NOT_OWNED, config=config)
    PhoneLine.objects.create(name="Blank", phone_number=OWNED, config=config)
    calls = []
    real = gateway.list_incoming_numbers
    monkeypatch.setattr(gateway, "list_incoming_numbers", lambda **kw: calls.append(1) or real(**kw))

    page = admin_client.get("/admin/voiceconfig/phoneline/").content.decode()

    assert "Not on the account" in page and "Drifted" in page
    assert len(calls) == 1


def test_the_admin_page_still_opens_when_twilio_is_down(twilio, admin_client, line):
    twilio.stop()
    response = admin_client.get("/admin/voiceconfig/phoneline/")
    assert response.status_code == 200
    assert "Unknown" in response.content.decode()


# --- the softphone's TwiML application -------------------------------------------------------------------------
def test_the_sync_creates_the_softphone_application_once_when_the_setting_is_empty(twilio):
    twilio.world.applications.clear()  # a fresh account: no TwiML application yet
    with override_settings(TWILIO_TWIML_APP_SID=""):
        out, _ = sync()
        created = out.split("TWILIO_TWIML_APP_SID=")[1].split()[0]
        again, _ = sync()

    assert created.startswith("AP")
    assert list(twilio.world.applications) == [created]
    assert f"TWILIO_TWIML_APP_SID={created}" in again  # found by name, not created twice
    assert twilio.world.applications[created].voice_url == WANTED.voice_url


def test_the_sync_points_the_application_back_at_us(twilio):
    twilio.world.applications[CREDENTIALS.twiml_app_sid].voice_url = "https://old-vendor.example.com/client"

    out, _ = sync()

    assert f"VoiceUrl https://old-vendor.example.com/client -> {WANTED.voice_url}" in out
    assert twilio.world.applications[CREDENTIALS.twiml_app_sid].voice_url == WANTED.voice_url


# --- the deploy check ----------------------------------------------------------------------------------------
def deploy_errors() -> dict[str, str]:
    # Errors only: the warnings on the signed URL's origin (voicetwilio.W00x) are test_security_forwarded's.
    return {e.id: e.msg for e in run_checks(include_deployment_checks=True) if e.id.startswith("voicetwilio.E")}


def test_the_deploy_check_passes_on_a_ready_account(twilio):
    twilio.world.applications[CREDENTIALS.twiml_app_sid].voice_url = WANTED.voice_url
    assert deploy_errors() == {}


def test_the_deploy_check_names_wrong_credentials(twilio):
    with override_settings(TWILIO_AUTH_TOKEN="wrong", TWILIO_API_KEY_SID="", TWILIO_API_KEY_SECRET=""):
        gateway._client_for.cache_clear()
        errors = deploy_errors()
    assert "Twilio refused our credentials" in errors["voicetwilio.E002"]


def test_the_deploy_check_names_a_missing_application(twilio):
    with override_settings(TWILIO_TWIML_APP_SID="AP" + "9" * 32):
        errors = deploy_errors()
    assert errors["voicetwilio.E004"] == f"TWILIO_TWIML_APP_SID=AP{'9' * 32} is not a TwiML application of the account."


def test_the_deploy_check_wants_a_public_base_url_when_provisioning(twilio):
    twilio.world.applications[CREDENTIALS.twiml_app_sid].voice_url = "http://127.0.0.1:8000/voicetwilio/voice"
    with override_settings(TWILIO_WEBHOOK_BASE_URL=""):
        errors = deploy_errors()
    assert list(errors) == ["voicetwilio.E001"]
    assert "TWILIO_WEBHOOK_BASE_URL is empty" in errors["voicetwilio.E001"]


# --- the admin: attach, buy, release -----------------------------------------------------------------------------
def line_form(config, number: str, **extra) -> dict:
    return {"name": "Main", "phone_number": number, "config": config.pk, "enabled": "on", **extra}


def test_the_admin_form_attaches_the_number_and_refuses_one_not_on_the_account(twilio, admin_client, config):
    refused = admin_client.post("/admin/voiceconfig/phoneline/add/", line_form(config, NOT_OWNED))
    assert refused.status_code == 200
    assert "is not one of the Twilio account&#x27;s phone numbers" in refused.content.decode()
    assert not PhoneLine.objects.exists()

    saved = admin_client.post("/admin/voiceconfig/phoneline/add/", line_form(config, OWNED))
    assert saved.status_code == 302
    assert PhoneLine.objects.get().twilio_sid == owned(twilio).sid
    assert urls_of(twilio) == WANTED_FOR_LINE and len(number_updates(twilio)) == 1


def test_buying_needs_the_permission(twilio, client):
    user = make_user("clerk", staff=False)
    user.is_staff = True
    user.save()
    client.force_login(user)

    assert client.get(f"/admin/voiceconfig/phoneline/buy/?number={QUOTED}").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="buy_phone_number"))
    assert client.get(f"/admin/voiceconfig/phoneline/buy/?number={QUOTED}").status_code == 200


def test_buying_asks_first_then_creates_the_number_with_our_urls_and_fills_the_line(twilio, admin_client):
    confirm = admin_client.get(f"/admin/voiceconfig/phoneline/buy/?number={QUOTED}")
    assert f"Yes, buy {FOR_SALE}" in confirm.content.decode()
    assert all(n.phone_number != FOR_SALE for n in twilio.world.owned_numbers.values())

    bought = admin_client.post("/admin/voiceconfig/phoneline/buy/", {"number": FOR_SALE})

    assert bought.status_code == 302
    assert bought["Location"].startswith("/admin/voiceconfig/phoneline/add/?phone_number=%2B14155550150")
    assert urls_of(twilio, FOR_SALE) == WANTED
    form = admin_client.get(bought["Location"]).content.decode()
    assert f'value="{FOR_SALE}"' in form


def test_the_number_picker_offers_buy_only_to_who_may_buy(twilio, admin_client, client):
    assert "data-buy-url" in admin_client.get("/admin/voiceconfig/phoneline/add/").content.decode()
    staff = make_user("viewer")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="add_phoneline"))
    client.force_login(staff)
    assert "data-buy-url" not in client.get("/admin/voiceconfig/phoneline/add/").content.decode()


def test_disabling_never_releases_releasing_is_its_own_confirmed_action(twilio, admin_client, staff_client, config):
    staff_client.post(URL, {"name": "Main", "phoneNumber": OWNED, "config": config.pk}, format="json")
    line = PhoneLine.objects.get()
    changelist = "/admin/voiceconfig/phoneline/"

    admin_client.post(changelist, {"action": "disable_lines", "_selected_action": [line.pk]})
    assert owned(twilio)  # still on the account

    confirm = admin_client.post(changelist, {"action": "release_numbers", "_selected_action": [line.pk]})
    assert "Release these numbers?" in confirm.content.decode()
    assert owned(twilio)

    admin_client.post(changelist, {"action": "release_numbers", "_selected_action": [line.pk], "confirm": "yes"})
    assert all(n.phone_number != OWNED for n in twilio.world.owned_numbers.values())
    line.refresh_from_db()
    assert (line.enabled, line.twilio_sid) == (False, "")


def test_enabling_lines_in_bulk_attaches_each_number_and_leaves_one_not_on_the_account_disabled(
    twilio, admin_client, config
):
    good = PhoneLine.objects.create(name="Good", phone_number=OWNED, config=config, enabled=False)
    ghost = PhoneLine.objects.create(name="Ghost", phone_number=NOT_OWNED, config=config, enabled=False)

    response = admin_client.post(
        "/admin/voiceconfig/phoneline/",
        {"action": "enable_lines", "_selected_action": [good.pk, ghost.pk]},
        follow=True,
    )

    good.refresh_from_db()
    ghost.refresh_from_db()
    assert (good.enabled, good.twilio_sid) == (True, owned(twilio).sid)
    assert urls_of(twilio) == WANTED_FOR_LINE
    assert ghost.enabled is False
    assert "Ghost (+14155550199) was not enabled" in response.content.decode()


def test_the_admin_form_with_twilio_down_says_so_and_saves_nothing(twilio, admin_client, config):
    twilio.stop()

    response = admin_client.post("/admin/voiceconfig/phoneline/add/", line_form(config, OWNED))

    assert response.status_code == 200
    assert "Twilio did not take the line&#x27;s URLs, so the line was not saved" in response.content.decode()
    assert not PhoneLine.objects.exists()


def test_a_new_line_page_says_the_state_is_checked_on_save(twilio, admin_client):
    page = admin_client.get("/admin/voiceconfig/phoneline/add/").content.decode()
    assert "Checked when the line is saved." in page


@pytest.mark.postgres
def test_a_sync_started_while_another_host_runs_one_does_nothing(twilio, line):
    """Another host's run holds the deployment-wide advisory lock (a real second PostgreSQL session here)."""
    import psycopg2
    from django.db import connection

    from voicetwilio.management.commands.twilio_sync import ADVISORY_LOCK_KEY

    db = connection.settings_dict
    other_host = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"] or 5432
    )
    other_host.autocommit = True
    other_pid = other_host.get_backend_pid()
    try:
        with other_host.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        out, _ = sync()
        assert out.strip() == "Another twilio_sync is running on this deployment; nothing done."
        assert number_updates(twilio) == []
    finally:
        other_host.close()  # ends that session (a host that stopped), and with it its lock

    # close() only sends the goodbye: the server's backend exits, releasing the lock, in its own time (under load
    # the next sync could still find it held). Wait for that session's locks to be gone, not for a fixed time.
    wait_until_session_holds_no_advisory_lock(connection, other_pid)
    out, _ = sync()
    assert "changed VoiceUrl" in out and len(number_updates(twilio)) == 1


def wait_until_session_holds_no_advisory_lock(connection, pid: int, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = %s)", [pid])
            if not cursor.fetchone()[0]:
                return
            assert time.monotonic() < deadline, f"session {pid} still holds its advisory lock after {timeout} s"
            time.sleep(0.01)


# --- one fallback URL ------------------------------------------------------------------------------------------
def test_the_number_carries_the_same_fallback_url_webhook_urls_prints(twilio, staff_client, config):
    """Issue 15 x 11: what provisioning sets on the number is the signed fallback URL, query string and all."""
    from io import StringIO

    staff_client.post(URL, {"name": "Main", "phoneNumber": OWNED, "config": config.pk}, format="json")
    printed = StringIO()
    call_command("webhook_urls", stdout=printed)

    assert f"Primary handler fails (POST): {urls_of(twilio).voice_fallback_url}\n" in printed.getvalue()
    assert f"Call status changes (POST):  {urls_of(twilio).status_callback}\n" in printed.getvalue()


def test_a_config_change_the_fallback_needs_drifts_the_number_and_the_sync_repairs_it(twilio, staff_client, config):
    staff_client.post(URL, {"name": "Main", "phoneNumber": OWNED, "config": config.pk}, format="json")
    config.after_hours_forward_to = "+14155550177"
    config.voicemail_enabled = False
    config.save()

    out, _ = sync()

    forward_fallback = f"{BASE}/voicetwilio/fallback?line=%2B14155550100&voice=Polly.Joanna&language=en-US"
    forward_fallback += "&forward=%2B14155550177"
    assert f"changed VoiceFallbackUrl {OWNED_FALLBACK} -> {forward_fallback}" in out
    assert urls_of(twilio).voice_fallback_url == forward_fallback
    assert sync()[0].strip() == "Nothing to change: every line and the TwiML application are in sync."
