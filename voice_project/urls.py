from django.conf import settings
from django.contrib import admin
from django.urls import include, path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from voice_project.api_docs import LocalRedocView, redoc_bundle
from voice_project.health import healthz
from voiceconfig import staff_twofactor
from voiceconfig.admin_statistics import statistics as voice_statistics
from voiceconfig.admin_views import overview as voice_overview
from voiceconfig.api.auth import TokenObtainView, TokenRefreshView
from voiceconfig.api.errors import json_not_found, json_server_error
from voiceconfig.api.twofactor import TwoFactorConfirmView, TwoFactorEnrolView, TwoFactorVerifyView
from voicetwilio.console import page as console_page
from voicetwilio.console.views import PhoneNumberSearchView

# The admin's "View site" link: the live overview of lines, agents and waiting callers (there is no page at /).
admin.site.site_url = reverse_lazy("voice-overview")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The live overview lives inside the admin (staff login, admin look) but is not a model page.
    path("admin/voice/overview/", admin.site.admin_view(voice_overview), name="voice-overview"),
    # Charts and tables of the statistics REST endpoints, beside the overview (issue 17).
    path("admin/voice/statistics/", admin.site.admin_view(voice_statistics), name="voice-statistics"),
    # The admin's login asks a user with two-factor login on for the code too (voiceconfig/staff_twofactor.py).
    path("admin/login/", staff_twofactor.admin_password_step, name="admin-login"),
    path("admin/login/2fa/", staff_twofactor.admin_code_step, name="admin-login-2fa"),
    path("admin/", admin.site.urls),
    path("api/auth/token", TokenObtainView.as_view(), name="token-obtain"),
    path("api/auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("api/auth/2fa/verify", TwoFactorVerifyView.as_view(), name="twofactor-verify"),
    path("api/auth/2fa/enrol", TwoFactorEnrolView.as_view(), name="twofactor-enrol"),
    path("api/auth/2fa/confirm", TwoFactorConfirmView.as_view(), name="twofactor-confirm"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", LocalRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/redoc/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    # Twilio's numbers for sale (decision 11): voiceconfig's path, served by voicetwilio (the only app that talks
    # to Twilio), declared before the voiceconfig include so voiceconfig never imports voicetwilio.
    path("voiceconfig/phonenumbers", PhoneNumberSearchView.as_view(), name="phonenumber-search"),
    path("voiceconfig/", include("voiceconfig.urls")),
    path("voicetwilio/", include("voicetwilio.urls")),
    # The agent console page (its data comes from the REST API above) and the transfer targets it lists.
    path("console/", console_page.console_page, name="agent-console"),
    path("console/agents", console_page.TransferTargetsView.as_view(), name="console-agents"),
]

if settings.BENCH_BASELINE_VIEWS:
    # The benchmark's baselines (bench/views.py); only when the bench script turns them on.
    urlpatterns.append(path("bench/", include("bench.urls")))

handler404 = json_not_found
handler500 = json_server_error
