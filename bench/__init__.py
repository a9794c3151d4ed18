"""Benchmark and soak of the Twilio webhooks under gunicorn on PostgreSQL (see bench/README.md)."""
