"""The Twilio-facing webhooks (decision 1): Twilio's form fields in, TwiML out.

`http` reads requests and renders answers, `flow` decides what a caller hears, `views` are the thin endpoints.
"""
