"""A local Twilio: the REST API the gateway uses, a TwiML interpreter that calls our webhooks as Twilio does,
scripted callers and agents, and scenarios that play whole calls in virtual time. See README "Local Twilio
emulator".
"""

# Credentials the emulator and the app share when no real Twilio account is configured. Not secrets: they
# only open this local emulator.
ACCOUNT_SID = "AC" + "e0" * 16
AUTH_TOKEN = "emulator-auth-token-not-a-secret"
API_KEY_SID = "SK" + "e0" * 16
API_KEY_SECRET = "emulator-api-key-secret"
TWIML_APP_SID = "AP" + "e0" * 16
