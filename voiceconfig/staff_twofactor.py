"""Two-factor login for sessions: the admin asks for the second factor, and no session skips it (finding 7).

The REST login already has two steps (voiceconfig/twofactor.py). A Django session is the other way in: the admin
login form, and DRF's SessionAuthentication behind it, accepted a password alone. Now:

- `/admin/login/` checks the password (Django's own admin form); a user with two-factor login on (or required by
  staff) is not logged in yet but sent to `/admin/login/2fa/`, which asks for the app code or a backup code and
  runs the very verify step of the REST login: the same preLoginToken (kept in the session, never shown), the same
  5-minute limit, counters, lock and replay rules. Staff required to use 2FA who have not set it up are shown the
  secret to add to their app, as the REST password step answers it.
- `TwoFactorSessionMiddleware` (after AuthenticationMiddleware) treats a session of a user with two-factor login on
  as anonymous unless the second factor was given in that session. The admin, the API's SessionAuthentication and
  every other view read `request.user`, so a password-only session (made before 2FA was turned on, or by any other
  login path) opens nothing.

Trusted-device cookies ("don't ask again for 14 days") belong to the REST login and are not honoured here:
staff always give the code in the admin.
"""

from collections.abc import Callable

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import login as auth_login
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from . import twofactor
from .models import TwoFactorDevice

# The session keys: the second factor given in this session (the user's pk), and a login waiting for its code.
VERIFIED_SESSION_KEY = "voice_2fa_verified"
PENDING_SESSION_KEY = "voice_2fa_pending"
# Errors after which this login cannot go on: back to the password.
_FINAL_ERRORS = {twofactor.TIME_OUT, twofactor.RETRIES_EXCEEDED, twofactor.ACCOUNT_LOCKED}


def second_factor_required(user) -> bool:
    """True for a user whose logins must give a second factor."""
    if not getattr(user, "is_authenticated", False):
        return False
    return twofactor.two_factor_applies(TwoFactorDevice.objects.filter(user=user).first())


def session_has_second_factor(request: HttpRequest, user) -> bool:
    return request.session.get(VERIFIED_SESSION_KEY) == user.pk


def mark_second_factor_given(request: HttpRequest, user) -> None:
    request.session[VERIFIED_SESSION_KEY] = user.pk


# --- every request: a session without the second factor is anonymous ------------------------------------------------


class TwoFactorSessionMiddleware:
    """Put after AuthenticationMiddleware. Lazy like it: a request that never reads request.user costs nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session_user = request.user

        def checked_user():
            if second_factor_required(session_user) and not session_has_second_factor(request, session_user):
                return AnonymousUser()
            return session_user

        request.user = SimpleLazyObject(checked_user)
        return self.get_response(request)


# --- the admin's login: password, then code -------------------------------------------------------------------------


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


class AdminPasswordStepView(LoginView):
    """Django's admin login page and form; a user with two-factor login goes on to the code step."""

    authentication_form = AdminAuthenticationForm
    template_name = "admin/login.html"
    redirect_authenticated_user = False

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            admin.site.each_context(self.request),
            title="Log in",
            subtitle=None,
            app_path=self.request.get_full_path(),
            username=self.request.user.get_username(),
        )
        if not context.get(REDIRECT_FIELD_NAME):
            context[REDIRECT_FIELD_NAME] = reverse("admin:index")
        return context

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")

    def form_valid(self, form):
        user = form.get_user()
        if not second_factor_required(user):
            return super().form_valid(form)
        step = twofactor.login_password_step(user=user)
        self.request.session[PENDING_SESSION_KEY] = {
            "token": step.prelogin_token,
            "secretKey": step.secret_key or "",
            "otpauthUri": step.otpauth_uri or "",
            "next": _safe_next(self.request, self.get_redirect_url()),
        }
        return HttpResponseRedirect(reverse("admin-login-2fa"))


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app, or a backup code",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "numeric"}),
    )


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def admin_code_step(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending:
        return HttpResponseRedirect(reverse("admin:login"))
    form = CodeForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            result = twofactor.login_verify(
                prelogin_token=pending["token"],
                code=form.cleaned_data["code"],
                secret_key=pending["secretKey"],
                issue_tokens=False,
            )
        except twofactor.TwoFactorError as exc:
            error = exc
            if exc.error in _FINAL_ERRORS:
                del request.session[PENDING_SESSION_KEY]
        else:
            del request.session[PENDING_SESSION_KEY]
            auth_login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
            mark_second_factor_given(request, result.user)
            if result.backup_codes:
                # Two-factor login was set up just now: the backup codes are shown this once.
                return render(
                    request,
                    "voiceconfig/admin_backup_codes.html",
                    _context(request, pending, codes=result.backup_codes),
                )
            return HttpResponseRedirect(pending["next"])
    return render(request, "voiceconfig/admin_code_step.html", _context(request, pending, form=form, error=error))


def _context(request: HttpRequest, pending: dict, **extra) -> dict:
    return {
        **admin.site.each_context(request),
        "title": "Two-factor login",
        "secret_key": pending["secretKey"],
        "otpauth_uri": pending["otpauthUri"],
        "next": pending["next"],
        "restart_url": reverse("admin:login"),
        **extra,
    }


admin_password_step = AdminPasswordStepView.as_view()
