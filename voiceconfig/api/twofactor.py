"""Two-factor login over REST: the verify step (the spec's "Create a client token sample") and enrolment.

These views speak plain JSON, not the project's camelCase renderer and parser: the spec's keys `Verifiedtoken`
and `isSKip2fa` are not camelCase and would not survive the round trip through snake_case.
"""

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from .. import twofactor
from ..services import StateConflict
from .authentication import ACCESS_COOKIE
from .errors import Conflict


class PlainJSONParser(JSONParser):
    """DRF's JSON parser (keys kept exactly as sent) that answers absurdly deep nesting with a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc


# The HttpOnly cookies this flow sets. The trusted-device cookie only ever travels to the login endpoints.
TRUSTED_DEVICE_COOKIE = "voice_trusted_device"
TRUSTED_DEVICE_COOKIE_PATH = "/api/auth/"


def set_access_cookie(response: Response, access: str) -> None:
    response.set_cookie(
        ACCESS_COOKIE,
        access,
        max_age=int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="Strict",
    )


def set_trusted_device_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        TRUSTED_DEVICE_COOKIE,
        token,
        max_age=int(twofactor.TRUSTED_DEVICE_LIFETIME.total_seconds()),
        path=TRUSTED_DEVICE_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="Strict",
    )


def forget_trusted_device_cookie(response: Response) -> None:
    response.delete_cookie(TRUSTED_DEVICE_COOKIE, path=TRUSTED_DEVICE_COOKIE_PATH, samesite="Strict")


def _user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:200]


def no_store(response: Response) -> Response:
    # Tokens, secrets and backup codes must not be kept by any cache on the way (RFC 6749 section 5.1).
    response["Cache-Control"] = "no-store"
    return response


def failure_response(exc: twofactor.TwoFactorError) -> Response:
    body = {"error": exc.error, "message": exc.message}
    if exc.retry_remaining is not None:
        # The spec types it as a string.
        body["retryRemainingNumber"] = str(exc.retry_remaining)
    return Response(body, status=400)


# Field names are the spec's, exactly; hence the mixed case.
class TwoFactorVerifySerializer(serializers.Serializer):
    preLoginToken = serializers.CharField(max_length=2000, help_text="From `POST /api/auth/token`; 5 minutes.")
    code = serializers.CharField(
        max_length=64, allow_blank=True, trim_whitespace=True, help_text="The 6-digit app code or a backup code."
    )
    secretKey = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="When setting up during login: the secretKey the password step returned.",
    )
    isSetCookie = serializers.BooleanField(
        required=False, default=False, help_text="Also set the JWT as an HttpOnly, Secure, SameSite cookie."
    )
    isSKip2fa = serializers.BooleanField(
        required=False, default=False, help_text="Don't ask again on this computer for 14 days."
    )


class TwoFactorVerifiedSerializer(serializers.Serializer):
    jwtToken = serializers.CharField(help_text="The access JWT (`Authorization: Bearer ...`).")
    refreshToken = serializers.CharField(help_text="For `POST /api/auth/token/refresh`.")
    Verifiedtoken = serializers.CharField(help_text="Signed; carries the user id and the 2FA verified time.")
    backupCodes = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Only when this login turned 2FA on."
    )


class TwoFactorFailureSerializer(serializers.Serializer):
    """A refused code (one of the specification's four errors), or a malformed request: `validation_error` for a
    missing or wrong field, `bad_request` for a body that is not JSON at all."""

    error = serializers.ChoiceField(choices=[*twofactor.SPEC_ERRORS, "validation_error", "bad_request"])
    message = serializers.CharField()
    retryRemainingNumber = serializers.CharField(
        required=False, help_text="Codes this login may still try (digits); given with the four code errors."
    )
    details = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field sentences of a validation_error, by field name (or nonFieldErrors).",
    )


class PlainJSONView(APIView):
    """Keys in and out exactly as written (see the module docstring)."""

    renderer_classes = [JSONRenderer]
    parser_classes = [PlainJSONParser, FormParser, MultiPartParser]


class TwoFactorVerifyView(PlainJSONView):
    """The second login step: a code for the preLoginToken, answered by the JWT pair."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        summary="Verify the two-factor code and get the JWT",
        description=(
            "Exchange the `preLoginToken` from `POST /api/auth/token` and a code from the authenticator app (or a "
            "one-time backup code) for the JWT. `error` is exactly one of `Code verify failed`, `Time out`, "
            "`Number of retries exceeded`, `Account locked`. Policy: the preLoginToken lasts 5 minutes; 5 wrong "
            "codes end it; 10 consecutive wrong codes lock the account until staff unlock it; a code is accepted "
            "once. `isSKip2fa` sets an HttpOnly trusted-device cookie for 14 days; `isSetCookie` sets the JWT as "
            "an HttpOnly, Secure, SameSite=Strict cookie `voice_access`."
        ),
        request=TwoFactorVerifySerializer,
        responses={200: TwoFactorVerifiedSerializer, 400: TwoFactorFailureSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TwoFactorVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return verify_step(request, data.validated_data)


def verify_step(request: Request, params: dict) -> Response:
    """The verify step's answer, whichever form asked (POST body or the spec's GET query string)."""
    try:
        result = twofactor.login_verify(
            prelogin_token=params["preLoginToken"], code=params["code"], secret_key=params["secretKey"]
        )
    except twofactor.TwoFactorError as exc:
        return no_store(failure_response(exc))
    body = {
        "jwtToken": result.tokens.access,
        "refreshToken": result.tokens.refresh,
        "Verifiedtoken": result.verified_token,
    }
    if result.backup_codes:
        body["backupCodes"] = result.backup_codes
    response = no_store(Response(body))
    if params["isSetCookie"]:
        set_access_cookie(response, result.tokens.access)
    if params["isSKip2fa"]:
        token, _ = twofactor.trusted_device_create(user=result.user, user_agent=_user_agent(request))
        set_trusted_device_cookie(response, token)
    return response


# --- the spec's GET form: GET /voicetwilio/token?preLoginToken=...&code=...&isSetCookie=...&isSKip2fa=... ---------

PRELOGIN_QUERY_PARAMETER = "preLoginToken"


class TwoFactorQueryVerifySerializer(TwoFactorVerifySerializer):
    """The spec's table marks `code`, `isSetCookie` and `isSKip2fa` required for the GET form."""

    isSetCookie = serializers.BooleanField(help_text="Also set the JWT as an HttpOnly, Secure, SameSite cookie.")
    isSKip2fa = serializers.BooleanField(help_text="Don't ask again on this computer for 14 days.")


class TwoFactorQueryVerifyView(PlainJSONView):
    """The verify step as the specification writes it: the same fields in the query string of a GET."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        # A plain dict, not the QueryDict: DRF reads a boolean missing from a QueryDict as `false`, and the spec
        # wants a missing isSetCookie or isSKip2fa named in the 400.
        data = TwoFactorQueryVerifySerializer(data=request.query_params.dict())
        data.is_valid(raise_exception=True)
        return verify_step(request, data.validated_data)

    def finalize_response(self, request, response, *args, **kwargs):
        # Its 400s carry no token, but they answer a URL with a code in it: no cache keeps any of it.
        return no_store(super().finalize_response(request, response, *args, **kwargs))


_query_verify_view = TwoFactorQueryVerifyView.as_view()

# For the OpenAPI of the view that takes this form in (GET /voicetwilio/token).
PRELOGIN_QUERY_PARAMETERS = [
    OpenApiParameter(
        PRELOGIN_QUERY_PARAMETER,
        str,
        description="Two-factor login step (the spec's form of `POST /api/auth/2fa/verify`): from "
        "`POST /api/auth/token`. With it, `code`, `isSetCookie` and `isSKip2fa` are required and no login is needed.",
    ),
    OpenApiParameter("code", str, description="With preLoginToken: the 6-digit app code or a backup code."),
    OpenApiParameter("secretKey", str, description="With preLoginToken, when setting up during login."),
    OpenApiParameter("isSetCookie", bool, description="With preLoginToken: also set the JWT as an HttpOnly cookie."),
    OpenApiParameter("isSKip2fa", bool, description="With preLoginToken: don't ask again here for 14 days."),
]


def token_or_verified(softphone_token_serializer) -> PolymorphicProxySerializer:
    """The 200 of GET /voicetwilio/token: the softphone token, or the verify step's answer with preLoginToken."""
    return PolymorphicProxySerializer(
        component_name="ClientTokenOrTwoFactorVerified",
        serializers=[softphone_token_serializer, TwoFactorVerifiedSerializer],
        resource_type_field_name=None,
    )


class PreLoginQueryStep:
    """Mixed into the softphone token view: a GET carrying `preLoginToken` is the two-factor verify step instead.

    Dispatched before authentication, as the verify step needs none (the user has no JWT yet).
    """

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if request.method in ("GET", "HEAD") and PRELOGIN_QUERY_PARAMETER in request.GET:
            return _query_verify_view(request)
        return super().dispatch(request, *args, **kwargs)


class TwoFactorEnrolmentSerializer(serializers.Serializer):
    secretKey = serializers.CharField(help_text="Base32 TOTP secret, for typing into the app by hand.")
    otpauthUri = serializers.CharField(help_text="otpauth:// URI: show it as a QR code to scan.")


class TwoFactorConfirmSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text="The 6-digit code the app shows now.")


class TwoFactorBackupCodesSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    backupCodes = serializers.ListField(child=serializers.CharField(), help_text="One-time codes; shown once only.")


class EnrolmentView(PlainJSONView):
    """The signed-in user's own enrolment steps."""

    permission_classes = [IsAuthenticated]
    schema_error_codes_extra = {"409"}  # 2FA already on / no pending enrolment


class TwoFactorEnrolView(EnrolmentView):
    """Start setting up two-factor login for the signed-in user."""

    @extend_schema(
        tags=["auth"],
        summary="Start two-factor enrolment",
        description="A fresh TOTP secret for the signed-in user, pending until confirmed. 409 when 2FA is already on.",
        request=None,
        responses={200: TwoFactorEnrolmentSerializer},
    )
    def post(self, request: Request) -> Response:
        try:
            enrolment = twofactor.two_factor_enrol(user=request.user)
        except StateConflict as exc:
            raise Conflict(str(exc)) from exc
        return no_store(Response({"secretKey": enrolment.secret_key, "otpauthUri": enrolment.otpauth_uri}))


class TwoFactorConfirmView(EnrolmentView):
    """Finish enrolment with a code from the app; answers the backup codes."""

    @extend_schema(
        tags=["auth"],
        summary="Confirm two-factor enrolment",
        description=(
            "Turns two-factor login on when the code matches the pending secret and answers 10 one-time backup "
            "codes (shown this once). A wrong code is 400 `Code verify failed`; no pending enrolment is 409."
        ),
        request=TwoFactorConfirmSerializer,
        responses={
            200: TwoFactorBackupCodesSerializer,
            400: inline_serializer(
                "TwoFactorConfirmFailure", {"error": serializers.CharField(), "message": serializers.CharField()}
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = TwoFactorConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            codes = twofactor.two_factor_confirm(user=request.user, code=data.validated_data["code"])
        except StateConflict as exc:
            raise Conflict(str(exc)) from exc
        except twofactor.TwoFactorError as exc:
            return failure_response(exc)
        return no_store(Response({"enabled": True, "backupCodes": codes}))


class CookieJWTScheme(OpenApiAuthenticationExtension):
    """Documents voiceconfig.api.authentication.CookieJWTAuthentication as a cookie security scheme."""

    target_class = "voiceconfig.api.authentication.CookieJWTAuthentication"
    name = "jwtCookie"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": ACCESS_COOKIE}
