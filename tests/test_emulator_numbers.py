"""The emulator's account numbers and TwiML applications: a call is routed by the number's configured VoiceUrl,
so a number nobody pointed at the app fails as it would at Twilio, and the gateway's provisioning requests work
against it unchanged."""

import pytest
import requests
from django.test import override_settings

from tests.test_emulator_twiml import CALLER, CREDENTIALS, FakeApp
from twilio_emulator.appserver import free_port
from twilio_emulator.factory import FALLBACK_PATH, STATUS_CALLBACK_PATH, VOICE_PATH, build
from twilio_emulator.people import Directory, Person
from twilio_emulator.world import NumberConfig
from voicetwilio import gateway

OWNED = "+14155550100"
FOR_SALE = "+14155550150"
ANSWER = "<Response><Say>Thank you for calling.</Say><Hangup/></Response>"
ACCOUNT_PATH = f"/2010-04-01/Accounts/{CREDENTIALS.account_sid}"


@pytest.fixture
def account():
    """A fake app, and an emulated account that owns OWNED with nothing configured on it."""
    app = FakeApp({VOICE_PATH: ANSWER, FALLBACK_PATH: ANSWER, STATUS_CALLBACK_PATH: "<Response/>"})
    server = build(
        app_url=app.url,
        credentials=CREDENTIALS,
        port=free_port(8500, 8549, exclude=(app.httpd.server_address[1],)),
        directory=Directory(agent_answer_after=None),
        account_numbers=[OWNED],
        provisioned=False,
    ).start()
    env = CREDENTIALS.env(server.url)
    with override_settings(**env):
        gateway._client_for.cache_clear()
        yield app, server
    gateway._client_for.cache_clear()
    server.stop()
    app.stop()


def ring(server, to: str = OWNED):
    world = server.world
    with world.clock.running():
        call = world.place_inbound_call(from_=CALLER, to=to, party=Person("caller", steps=[], patience_alone=30))
        assert world.clock.wait(world.idle, 300), world.timeline.render()
    return call


def heard(server) -> list[str]:
    return [
        e.text.removeprefix("hears ") for e in server.world.timeline.entries if e.who == "caller" and e.kind == "hear"
    ]


def test_a_number_with_no_voice_url_gives_the_caller_an_application_error(account):
    app, server = account

    ring(server)

    assert app.seen == []
    assert any("application error" in text for text in heard(server)), heard(server)


def test_a_number_pointing_elsewhere_fails_and_never_reaches_the_app(account):
    app, server = account
    number = gateway.find_incoming_number(phone_number=OWNED)
    gateway.configure_incoming_number(
        sid=number.sid,
        urls=gateway.NumberUrls("https://old-host.example.com/voice", "https://old-host.example.com/fallback", ""),
    )

    ring(server)

    assert app.seen == []
    assert any("application error" in text for text in heard(server))


def test_once_configured_through_the_gateway_the_number_rings_the_app(account):
    app, server = account
    number = gateway.find_incoming_number(phone_number=OWNED)
    urls = gateway.NumberUrls(
        voice_url=app.url + VOICE_PATH,
        voice_fallback_url=app.url + FALLBACK_PATH,
        status_callback=app.url + STATUS_CALLBACK_PATH + "#rc=3&rp=ct,rt,5xx",
    )

    gateway.configure_incoming_number(sid=number.sid, urls=urls)
    ring(server)

    assert len(app.to(VOICE_PATH)) == 1
    assert '"Thank you for calling."' in heard(server)
    # The status callback arrives without the connection-override fragment, with a signature that checks out.
    status = app.to(STATUS_CALLBACK_PATH)
    assert len(status) == 1 and status[0].signed


def test_a_number_the_account_does_not_own_cannot_be_called(account):
    _, server = account
    with pytest.raises(ValueError, match="not one of this account's numbers"):
        server.world.place_inbound_call(from_=CALLER, to="+14155550199", party=Person("caller", steps=[]))


def test_buying_lists_and_releasing_a_number(account):
    _, server = account
    urls = gateway.NumberUrls("http://127.0.0.1:8000/v", "http://127.0.0.1:8000/f", "http://127.0.0.1:8000/s")

    bought = gateway.buy_number(phone_number=FOR_SALE, urls=urls, friendly_name="Sales")

    assert bought.sid.startswith("PN") and bought.urls == urls and bought.friendly_name == "Sales"
    assert {n.phone_number for n in gateway.list_incoming_numbers()} == {OWNED, FOR_SALE}
    gateway.release_number(sid=bought.sid)
    assert gateway.find_incoming_number(phone_number=FOR_SALE) is None


def test_buying_a_number_not_for_sale_is_twilios_error(account):
    with pytest.raises(gateway.GatewayError) as failure:
        gateway.buy_number(phone_number="+14155550199", urls=gateway.NumberUrls("", "", ""))
    assert failure.value.twilio_code == 21422


def test_the_phone_number_filter_matches_a_pattern_but_the_gateway_wants_the_exact_number(account):
    _, server = account
    auth = (CREDENTIALS.account_sid, CREDENTIALS.auth_token)
    answer = requests.get(f"{server.url}{ACCOUNT_PATH}/IncomingPhoneNumbers.json?PhoneNumber=555", auth=auth, timeout=5)

    assert [n["phone_number"] for n in answer.json()["incoming_phone_numbers"]] == [OWNED]
    assert gateway.find_incoming_number(phone_number="+1415555010") is None


def test_applications_can_be_created_found_fetched_and_updated(account):
    app = gateway.create_application(friendly_name="Voice softphone 2", voice_url="http://127.0.0.1:8000/a")

    assert gateway.find_application(friendly_name="Voice softphone 2") == app
    gateway.set_application_voice_url(sid=app.sid, voice_url="http://127.0.0.1:8000/b")
    assert gateway.fetch_application(sid=app.sid).voice_url == "http://127.0.0.1:8000/b"
    assert gateway.fetch_application(sid="AP" + "9" * 32) is None


def test_the_credentials_application_exists_at_start_asking_the_app(account):
    app, _ = account
    softphone = gateway.fetch_application(sid=CREDENTIALS.twiml_app_sid)
    assert softphone is not None and softphone.voice_url == app.url + VOICE_PATH


def test_an_emulator_started_for_make_run_owns_its_numbers_already_pointing_at_the_app():
    server = build(app_url="http://127.0.0.1:8000", account_numbers=[OWNED])
    config = server.world.number_config(OWNED)
    assert config == NumberConfig(
        voice_url="http://127.0.0.1:8000" + VOICE_PATH,
        fallback_url="http://127.0.0.1:8000" + FALLBACK_PATH,
        status_callback="http://127.0.0.1:8000" + STATUS_CALLBACK_PATH,
    )
    assert server.world.number_config("+14155550199") is None
    server.httpd.server_close()


def test_a_bought_number_is_no_longer_for_sale(account):
    def for_sale() -> set[str]:
        return {n.phone_number for n in gateway.search_available_numbers(country_code="US", area_code="415")}

    assert FOR_SALE in for_sale()
    gateway.buy_number(phone_number=FOR_SALE, urls=gateway.NumberUrls("", "", ""))
    assert FOR_SALE not in for_sale()
