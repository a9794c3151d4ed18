"""Every TwiML document the inbound flow returns obeys Twilio's own TwiML rules (npm twilio's VoiceResponse.d.ts):
which element may contain which, which attributes each element has, and the allowed values of enum attributes."""

import os
from datetime import time

import pytest
from django.utils import timezone

from tests.twilio import twiml_rules
from voiceconfig.models import AfterHoursAction, BusinessHours, IvrAction, IvrOption

if not twiml_rules.available():
    reason = f"{twiml_rules.DEFINITIONS} is missing: run `npm ci`"
    if os.environ.get("REQUIRE_TWILIO_CONTRACT"):
        raise RuntimeError(f"REQUIRE_TWILIO_CONTRACT is set but {reason}")
    pytest.skip(reason, allow_module_level=True)

pytestmark = pytest.mark.django_db


def test_the_rules_catch_broken_twiml():
    assert twiml_rules.check('<Response><Gather input="voice"><Dial>+1</Dial></Gather></Response>') == [
        "<Gather input> has 'voice', not one of ['dtmf', 'speech']",
        "<Dial> may not appear inside <Gather>",
    ]


def closed(config, action, **fields):
    today = timezone.now().astimezone(timezone.get_current_timezone()).weekday()
    BusinessHours.objects.create(config=config, weekday=(today + 3) % 7, opens_at=time(3), closes_at=time(4))
    config.after_hours_action = action
    for name, value in fields.items():
        setattr(config, name, value)
    config.save()


def with_menu(config):
    config.ivr_prompt = "How can we help?"
    config.save()
    IvrOption.objects.create(config=config, digit="1", keywords="sales", label="for sales")
    IvrOption.objects.create(config=config, digit="#", keywords="operator", label="for us", action=IvrAction.MESSAGE)


def scenario_responses(twilio, line, online_agent):
    """One response of every kind the flow gives, in the order a caller could meet them."""
    config = line.config
    yield "unknown number", twilio.incoming(to="+14155550987")
    yield "routing with greeting", twilio.incoming(call_sid="CA" + "1" * 32)
    config.greeting_audio_url = "https://cdn.example.com/hello.mp3"
    config.recording_policy = "always"
    config.save()
    online_agent("alice")
    yield "audio greeting, recorded conference, agent rung", twilio.incoming(call_sid="CA" + "2" * 32)
    yield "hold music", twilio.queue_wait("CA" + "1" * 32)
    config.hold_music_url = ""
    config.save()
    yield "hold without music", twilio.queue_wait("CA" + "1" * 32)
    yield "voicemail", twilio.voicemail("CA" + "1" * 32)
    yield "voicemail left", twilio.recording("CA" + "1" * 32)
    yield "status callback", twilio.status("CA" + "1" * 32, "completed", seq=2)
    yield "unanswered forward", twilio.dial_action("CA" + "1" * 32, "busy")
    yield "fallback", twilio.post("fallback", "voice", CallSid="CA" + "3" * 32)
    with_menu(config)
    yield "menu", twilio.incoming(call_sid="CA" + "4" * 32)
    yield "menu again", twilio.gather("CA" + "4" * 32, digits="5")
    yield "menu message", twilio.gather("CA" + "4" * 32, digits="#")
    closed(config, AfterHoursAction.FORWARD, after_hours_forward_to="+14155550142")
    yield "after-hours forward", twilio.incoming()
    closed(config, AfterHoursAction.VOICEMAIL)
    yield "after-hours voicemail", twilio.incoming()
    closed(config, AfterHoursAction.MESSAGE)
    yield "after-hours message", twilio.incoming()


def test_every_answer_of_the_flow_is_valid_twiml(twilio, line, online_agent, twilio_gateway):
    checked = 0
    for name, response in scenario_responses(twilio, line, online_agent):
        assert response.status_code == 200, name
        assert twiml_rules.check(response.content) == [], name
        checked += 1
    assert checked == 16
