"""Twilio-facing URLs (decision 1), under /voicetwilio/, without trailing slashes.

Configure in Twilio, on each phone number: "A call comes in" -> `voice`, "Primary handler fails" -> `fallback`
(with the line's query string: `manage.py webhook_urls` prints it), "Call status changes" -> `statuscallback`. The
other URLs are handed to Twilio inside our TwiML and REST requests; build them with
`voicetwilio.links.webhook_url(name, request, **query)`, which adds the retry overrides to event callbacks.
"""

from django.urls import path

from .webhooks import outbound_views, views

urlpatterns = [
    path("voice", views.voice, name="voice"),
    path("gather", views.gather, name="gather"),
    path("statuscallback", views.status_callback, name="statuscallback"),
    path("fallback", views.fallback, name="fallback"),
    # Call-progress events of the agent and transferee legs added to a call's conference.
    path("participantcallback", views.participant_callback, name="participant-callback"),
    path("conferencecallback", views.conference_callback, name="conference-callback"),
    # The conference waitUrl: hold music, and the routing retry each time it is fetched again.
    path("queuewait", views.queue_wait, name="queue-wait"),
    path("voicemail", views.voicemail, name="voicemail"),
    path("recordingcallback", views.recording_callback, name="recording-callback"),
    # The outcome of a <Dial> to an outside number (after-hours or IVR forwarding).
    path("dialcallback", views.dial_callback, name="dial-callback"),
    # Click-to-dial and callbacks (issue 19): the customer's leg, and the legs of a callback.
    path("outboundstatus", outbound_views.outbound_status, name="outbound-status"),
    path("outboundconference", outbound_views.outbound_conference, name="outbound-conference"),
    path("recordingconsent", outbound_views.recording_consent, name="recording-consent"),
    path("callbackoffer", outbound_views.callback_offer, name="callback-offer"),
    path("callbackchoice", outbound_views.callback_choice, name="callback-choice"),
    path("callbackleg", outbound_views.callback_leg, name="callback-leg"),
]
