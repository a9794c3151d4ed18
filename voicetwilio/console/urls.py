"""The agent console API under /voicetwilio/ (the specification's paths, no trailing slashes).

Call actions keep the spec's `{id}:action` form (Google-style custom methods), which DRF routers cannot
express; `{id}` is our call id or the caller's CallSid.
"""

from django.urls import path, re_path

from . import dialer, hangup, recording_views, views

CALL_REF = r"(?P<id>[0-9]{1,18}|CA[0-9a-f]{32})"
AGENT_ID = r"(?P<agentid>[0-9]{1,18})"

urlpatterns = [
    path("tokens", views.ClientTokenCreateView.as_view(), name="client-tokens"),
    path("token", views.ClientTokenView.as_view(), name="client-token"),
    re_path(rf"^calls/{CALL_REF}:onhold$", views.CallHoldView.as_view(), name="call-onhold"),
    re_path(rf"^calls/{CALL_REF}:resume$", views.CallResumeView.as_view(), name="call-resume"),
    re_path(rf"^calls/{CALL_REF}:transfer$", views.CallTransferView.as_view(), name="call-transfer"),
    re_path(rf"^calls/{CALL_REF}:hangup$", hangup.CallHangupView.as_view(), name="call-hangup"),
    # Recording and supervision (issue 18; docs/recording.md).
    re_path(
        rf"^calls/{CALL_REF}:startrecording$",
        recording_views.CallStartRecordingView.as_view(),
        name="call-startrecording",
    ),
    re_path(
        rf"^calls/{CALL_REF}:pauserecording$",
        recording_views.CallPauseRecordingView.as_view(),
        name="call-pauserecording",
    ),
    re_path(
        rf"^calls/{CALL_REF}:resumerecording$",
        recording_views.CallResumeRecordingView.as_view(),
        name="call-resumerecording",
    ),
    re_path(
        rf"^calls/{CALL_REF}:stoprecording$", recording_views.CallStopRecordingView.as_view(), name="call-stoprecording"
    ),
    re_path(rf"^calls/{CALL_REF}:monitor$", recording_views.CallMonitorView.as_view(), name="call-monitor"),
    re_path(
        r"^recordings/(?P<pk>[0-9]{1,18}|RE[0-9a-f]{32})/media$",
        recording_views.RecordingMediaView.as_view(),
        name="recording-media",
    ),
    re_path(rf"^agent/{AGENT_ID}/status$", views.AgentStatusView.as_view(), name="agent-status"),
    re_path(rf"^agent/{AGENT_ID}/heartbeats$", views.AgentHeartbeatView.as_view(), name="agent-heartbeats"),
    path("dial/lines", dialer.DialLinesView.as_view(), name="dial-lines"),
    path("dial/check", dialer.DialCheckView.as_view(), name="dial-check"),
]
