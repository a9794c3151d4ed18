"""Test helpers for Twilio-facing code: signing requests the way Twilio does, Twilio-shaped payloads."""
