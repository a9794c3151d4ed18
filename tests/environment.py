"""Loaded by pytest before Django (setup.cfg addopts -p): development defaults for settings the tests need.

Real values from the environment win, so `DATABASE_URL=postgres://... make test` runs on PostgreSQL.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("TWILIO_ACCOUNT_SID", "AC" + "0" * 31 + "1")
os.environ.setdefault("TWILIO_AUTH_TOKEN", "test-auth-token-0123456789abcdef")
os.environ.setdefault("TWILIO_API_KEY_SID", "SK" + "0" * 31 + "2")
os.environ.setdefault("TWILIO_API_KEY_SECRET", "test-api-key-secret-of-32-bytes-or-more")
os.environ.setdefault("TWILIO_TWIML_APP_SID", "AP" + "0" * 31 + "3")
# Saving a line would ask Twilio to configure its number; tests that mean it turn it on (tests/test_provisioning*).
os.environ.setdefault("TWILIO_PROVISIONING", "0")
