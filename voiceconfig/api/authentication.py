"""The access JWT from the HttpOnly cookie that two-factor login sets on request (`isSetCookie`).

Its own module, importing no views: DRF imports authentication classes while building APIView itself.
"""

from rest_framework.authentication import CSRFCheck
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

ACCESS_COOKIE = "voice_access"


class CookieJWTAuthentication(JWTAuthentication):
    """Reads `voice_access` only when no Authorization header is sent.

    The browser sends a cookie on its own, so unsafe methods need Django's CSRF token, as with session login.
    """

    def authenticate(self, request: Request):
        if self.get_header(request) is not None:
            return None
        raw = request.COOKIES.get(ACCESS_COOKIE)
        if not raw:
            return None
        validated = self.get_validated_token(raw.encode())
        self._enforce_csrf(request)
        return self.get_user(validated), validated

    def _enforce_csrf(self, request: Request) -> None:
        check = CSRFCheck(lambda req: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise PermissionDenied(f"CSRF Failed: {reason}")
