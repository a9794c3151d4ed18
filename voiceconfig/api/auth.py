"""JWT login (simplejwt) at the paths the README documents."""

from rest_framework_simplejwt import views as jwt_views


class TokenObtainView(jwt_views.TokenObtainPairView):
    """Exchange a username and password for a short-lived `access` token and a `refresh` token."""

    throttle_scope = "login"


class TokenRefreshView(jwt_views.TokenRefreshView):
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted (rotation)."""
