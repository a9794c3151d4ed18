from django.urls import path
from rest_framework.routers import DefaultRouter

from .api import callbacks, departments, recordings, stats, views

router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.register("configs", views.VoiceConfigViewSet, basename="config")
router.register("phonelines", views.PhoneLineViewSet, basename="phoneline")
router.register("voiceagents", views.VoiceAgentViewSet, basename="voiceagent")
router.register("calls", views.CallViewSet, basename="call")
router.register("calllogs", views.CallLogViewSet, basename="calllog")
router.register("recordings", recordings.RecordingViewSet, basename="recording")
router.register("departments", departments.DepartmentViewSet, basename="department")
router.register("callbacks", callbacks.CallbackViewSet, basename="callback")
router.register("missedcalls", callbacks.MissedCallViewSet, basename="missedcall")

urlpatterns = [
    path("stats/live", stats.LiveStatsView.as_view(), name="stats-live"),
    path("stats/summary", stats.SummaryStatsView.as_view(), name="stats-summary"),
    *router.urls,
]
