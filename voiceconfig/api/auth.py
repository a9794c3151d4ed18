"""JWT login (simplejwt) at the paths the README documents, with the two-factor step in front of it.

`POST /api/auth/token` checks the password. A user without two-factor login gets `access` and `refresh` as
before; a user with it on gets only a `preLoginToken` to exchange at `POST /api/auth/2fa/verify` (see
voiceconfig/twofactor.py), unless the browser presents a valid trusted-device cookie.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.serializers import TokenObtainSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from .. import twofactor
from .twofactor import TRUSTED_DEVICE_COOKIE, forget_trusted_device_cookie, no_store


class PasswordSerializer(TokenObtainSerializer):
    """Only checks the username and password; whether tokens follow is the two-factor service's call."""

    token_class = RefreshToken


PasswordStepResponse = inline_serializer(
    "PasswordStepResponse",
    {
        "access": serializers.CharField(required=False, help_text="Without two-factor login (or a trusted browser)."),
        "refresh": serializers.CharField(required=False),
        "preLoginToken": serializers.CharField(
            required=False, help_text="Two-factor login is on: send it with a code to POST /api/auth/2fa/verify."
        ),
        "secretKey": serializers.CharField(
            required=False, help_text="Staff require 2FA and it is not set up yet: the secret to scan."
        ),
        "otpauthUri": serializers.CharField(required=False),
    },
)


class TokenObtainView(jwt_views.TokenObtainPairView):
    """Exchange a username and password for `access` and `refresh`, or for a `preLoginToken` under 2FA."""

    throttle_scope = "login"
    serializer_class = PasswordSerializer
    schema_error_codes_extra = {"401"}  # wrong username or password

    @extend_schema(responses={200: PasswordStepResponse})
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        step = twofactor.login_password_step(
            user=serializer.user, trusted_token=request.COOKIES.get(TRUSTED_DEVICE_COOKIE)
        )
        if step.tokens is not None:
            response = Response({"access": step.tokens.access, "refresh": step.tokens.refresh})
        else:
            body = {"preLoginToken": step.prelogin_token}
            if step.secret_key:
                body.update(secretKey=step.secret_key, otpauthUri=step.otpauth_uri)
            response = Response(body)
        if step.trusted_cookie_rejected:
            forget_trusted_device_cookie(response)
        return no_store(response)


class TokenRefreshView(jwt_views.TokenRefreshView):
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted (rotation)."""

    schema_error_codes_extra = {"401"}  # expired, forged or already-rotated refresh token

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        # The new pair must not be kept by any cache; its refusals too (they answer a request carrying a token).
        return no_store(super().finalize_response(request, response, *args, **kwargs))
