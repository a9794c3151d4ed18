from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from voiceconfig.api.auth import TokenObtainView, TokenRefreshView
from voiceconfig.api.errors import json_not_found, json_server_error

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/token", TokenObtainView.as_view(), name="token-obtain"),
    path("api/auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("voiceconfig/", include("voiceconfig.urls")),
    path("voicetwilio/", include("voicetwilio.urls")),
]

handler404 = json_not_found
handler500 = json_server_error
