"""The bare baseline: the least a durable Django webhook can do, measured beside the project (bench/README.md).

A minimal Django project of its own (settings.py): no project middleware, no logging configuration, one view that
does one indexed read of a call by its CallSid and one committed insert of a row shaped like a call log. It is served
by the same gunicorn settings on the same database as the project, so the ratio of a webhook to it is the price of
everything the webhook does beyond reading and durably writing one row.
"""
