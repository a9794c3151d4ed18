"""Access Tokens for the agents' browser softphones (Twilio Voice JS SDK), decision 7.

The token is a JWT signed with our API key secret; Twilio checks it when the softphone registers.
It lets the agent's client identity receive calls (our conference legs dial `client:<identity>`) and,
when TWILIO_TWIML_APP_SID is set, place calls through that TwiML App. Building it needs no request to
Twilio, so it never waits on the network.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from voiceconfig.models import VoiceAgent

from .gateway import GatewayNotConfigured


@dataclass(frozen=True)
class ClientToken:
    token: str
    identity: str
    expires_at: datetime
    ttl_seconds: int


def client_token_create(*, agent: VoiceAgent, now: float | None = None) -> ClientToken:
    """An Access Token with a VoiceGrant for the agent's client identity, valid TWILIO_TOKEN_TTL_SECONDS."""
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_API_KEY_SID and settings.TWILIO_API_KEY_SECRET):
        # Twilio accepts Access Tokens signed with an API key only, never with the account's auth token.
        raise GatewayNotConfigured(
            "Softphone tokens need TWILIO_ACCOUNT_SID, TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET to be set."
        )
    ttl = settings.TWILIO_TOKEN_TTL_SECONDS
    issued = int(now if now is not None else time.time())
    expires = issued + ttl
    grant = VoiceGrant(incoming_allow=True, outgoing_application_sid=settings.TWILIO_TWIML_APP_SID or None)
    token = AccessToken(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_API_KEY_SID,
        settings.TWILIO_API_KEY_SECRET,
        grants=[grant],
        identity=agent.identity,
        nbf=issued,
        valid_until=expires,
    )
    return ClientToken(
        token=token.to_jwt(),
        identity=agent.identity,
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        ttl_seconds=ttl,
    )
