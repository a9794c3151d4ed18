"""Two-factor login for agents: DESIGN.md decision 8, the spec's "Create a client token sample".

The login has two steps. The password step (`POST /api/auth/token`) gives a user with two-factor login on no
JWT, only a `preLoginToken`; the verify step (`POST /api/auth/2fa/verify`) exchanges that token and a code from
the authenticator app (or a one-time backup code) for the JWT pair.

Policy (the README states it too):
- a preLoginToken is good for 5 minutes (`Time out` after that, or once it has been used);
- 5 wrong codes on one preLoginToken end it (`Number of retries exceeded`);
- 10 consecutive wrong codes, across any number of preLoginTokens, lock the account (`Account locked`) until
  staff unlock it in admin; a right code resets the count;
- a TOTP code is accepted once: the time step it belongs to is remembered and never accepted again;
  backup codes are single use;
- `isSKip2fa` stores a trusted-device record for 14 days (revocable; a password change revokes them all).

The counters are correct under simultaneous attempts: every verify locks the device row and the attempt row
(`SELECT ... FOR UPDATE`, in that order everywhere) before reading them, and the database refuses a counter above
its limit (check constraints in models.py).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt
import pyotp
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from .models import (
    TWO_FACTOR_ATTEMPTS_PER_LOGIN,
    TWO_FACTOR_FAILURES_BEFORE_LOCK,
    BackupCode,
    PreLoginAttempt,
    TrustedDevice,
    TwoFactorDevice,
)
from .services import StateConflict

PRELOGIN_LIFETIME = timedelta(minutes=5)
TRUSTED_DEVICE_LIFETIME = timedelta(days=14)
ATTEMPTS_PER_LOGIN = TWO_FACTOR_ATTEMPTS_PER_LOGIN
FAILURES_BEFORE_LOCK = TWO_FACTOR_FAILURES_BEFORE_LOCK
BACKUP_CODE_COUNT = 10
# Codes from one step before or after now are accepted too: phone clocks drift and people type slowly.
TOTP_DRIFT_STEPS = 1
# The name the authenticator app shows next to the account.
ISSUER = getattr(settings, "TWO_FACTOR_ISSUER", "Voice")

# The four errors, spelled exactly as the specification spells them.
CODE_VERIFY_FAILED = "Code verify failed"
TIME_OUT = "Time out"
RETRIES_EXCEEDED = "Number of retries exceeded"
ACCOUNT_LOCKED = "Account locked"
SPEC_ERRORS = [CODE_VERIFY_FAILED, TIME_OUT, RETRIES_EXCEEDED, ACCOUNT_LOCKED]

_PRELOGIN_TYPE = "voice-2fa-prelogin"
_VERIFIED_TYPE = "voice-2fa-verified"
_BACKUP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read off paper without mistakes
_BACKUP_LENGTH = 10  # ~50 bits each


class TwoFactorError(Exception):
    """A failed verify: one of the four spec errors, a sentence for the agent, and the tries left."""

    def __init__(self, error: str, message: str, retry_remaining: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.retry_remaining = retry_remaining


@dataclass(frozen=True)
class IssuedTokens:
    access: str
    refresh: str


@dataclass(frozen=True)
class PasswordStep:
    """What the password step answers: tokens, or a preLoginToken (plus the secret when enrolling)."""

    tokens: IssuedTokens | None = None
    prelogin_token: str | None = None
    secret_key: str | None = None
    otpauth_uri: str | None = None
    # A trusted-device cookie came with the request but is forged, expired or revoked: the view clears it.
    trusted_cookie_rejected: bool = False


@dataclass(frozen=True)
class VerifySuccess:
    tokens: IssuedTokens | None  # None when the caller logs the user in another way (the admin's session)
    verified_token: str
    user: object
    backup_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Enrolment:
    secret_key: str
    otpauth_uri: str


# --- keys, hashes and tokens ------------------------------------------------------------------------------------


def _signing_key(purpose: str) -> str:
    # A key per purpose, derived from SECRET_KEY: a preLoginToken can never pass as a simplejwt token (which is
    # signed with SECRET_KEY itself) nor as a Verifiedtoken, and the other way round.
    return salted_hmac(f"voiceconfig.twofactor.{purpose}", "signing-key", algorithm="sha256").hexdigest()


def password_fingerprint(user) -> str:
    """Changes whenever the password does; stored with trusted devices and carried in the preLoginToken."""
    return salted_hmac("voiceconfig.twofactor.password", user.password, algorithm="sha256").hexdigest()


def _backup_code_hash(code: str) -> str:
    # Keyed with SECRET_KEY: a copy of the database alone does not allow guessing codes offline.
    return salted_hmac("voiceconfig.twofactor.backup-code", code, algorithm="sha256").hexdigest()


def _trusted_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _normalise_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _agent_id(user) -> int | None:
    # The reverse one-to-one raises an AttributeError subclass when the user is no agent (staff, say).
    agent = getattr(user, "voice_agent", None)
    return agent.pk if agent is not None else None


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def tokens_issue(*, user) -> IssuedTokens:
    """The JWT pair simplejwt would have issued for a password login (and last_login, as simplejwt does)."""
    refresh = RefreshToken.for_user(user)
    if jwt_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, user)
    return IssuedTokens(access=str(refresh.access_token), refresh=str(refresh))


def _prelogin_issue(*, user, now: datetime) -> str:
    jti = uuid.uuid4().hex
    expires_at = now + PRELOGIN_LIFETIME
    PreLoginAttempt.objects.create(jti=jti, user=user, expires_at=expires_at)
    claims = {
        "typ": _PRELOGIN_TYPE,
        "sub": str(user.pk),
        "agentId": _agent_id(user),
        "loginAt": int(now.timestamp()),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": jti,
        "pwd": password_fingerprint(user)[:16],
    }
    return jwt.encode(claims, _signing_key("prelogin"), algorithm="HS256")


def _prelogin_decode(token: str, now: datetime) -> dict:
    try:
        # Expiry is checked below against `now`, so the whole service runs on one clock.
        claims = jwt.decode(
            token,
            _signing_key("prelogin"),
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False, "require": ["typ", "sub", "exp", "jti", "pwd"]},
        )
    except jwt.PyJWTError as exc:
        raise TwoFactorError(TIME_OUT, "This login step is not valid; sign in with your password again.", 0) from exc
    if claims.get("typ") != _PRELOGIN_TYPE or not str(claims.get("sub", "")).isdigit():
        raise TwoFactorError(TIME_OUT, "This login step is not valid; sign in with your password again.", 0)
    if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
        raise TwoFactorError(TIME_OUT, "The 5 minutes to enter the code have passed; sign in again.", 0)
    return claims


def _verified_token(*, user, method: str, now: datetime) -> str:
    claims = {
        "typ": _VERIFIED_TYPE,
        "sub": str(user.pk),
        "agentId": _agent_id(user),
        "verifiedAt": int(now.timestamp()),
        "method": method,
        "iat": int(now.timestamp()),
        "exp": int((now + jwt_settings.REFRESH_TOKEN_LIFETIME).timestamp()),
    }
    return jwt.encode(claims, _signing_key("verified"), algorithm="HS256")


def verified_token_read(token: str) -> dict:
    """The claims of a Verifiedtoken (`sub`, `verifiedAt`, `method`); raises jwt.PyJWTError when not genuine."""
    claims = jwt.decode(token, _signing_key("verified"), algorithms=["HS256"], options={"require": ["exp", "sub"]})
    if claims.get("typ") != _VERIFIED_TYPE:
        raise jwt.InvalidTokenError("not a Verifiedtoken")
    return claims


# --- TOTP and backup codes ----------------------------------------------------------------------------------------


def otpauth_uri(*, user, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (within the allowed drift), or None."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if constant_time_compare(totp.generate_otp(step), code):
            return step
    return None


def _backup_codes_replace(device: TwoFactorDevice) -> list[str]:
    """Fresh backup codes for the device (the old ones stop working); the plain codes are shown once."""
    codes = ["".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(_BACKUP_LENGTH)) for _ in range(BACKUP_CODE_COUNT)]
    BackupCode.objects.filter(device=device).delete()
    BackupCode.objects.bulk_create([BackupCode(device=device, code_hash=_backup_code_hash(c)) for c in codes])
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _backup_code_use(device: TwoFactorDevice, code: str, now: datetime) -> bool:
    # One conditional UPDATE: of two requests racing with the same code, exactly one sees a row change.
    used = BackupCode.objects.filter(device=device, code_hash=_backup_code_hash(code), used_at__isnull=True).update(
        used_at=now
    )
    return used == 1


# --- trusted devices ("don't ask again on this computer for 14 days") -----------------------------------------------


def trusted_device_create(*, user, user_agent: str = "", now: datetime | None = None) -> tuple[str, datetime]:
    """A new trusted-device record; returns the raw cookie token (only its hash is stored) and its expiry."""
    now = _now(now)
    token = secrets.token_urlsafe(32)
    expires_at = now + TRUSTED_DEVICE_LIFETIME
    TrustedDevice.objects.create(
        user=user,
        token_hash=_trusted_token_hash(token),
        password_fingerprint=password_fingerprint(user),
        user_agent=user_agent[:200],
        expires_at=expires_at,
    )
    return token, expires_at


def trusted_device_is_valid(*, user, token: str, now: datetime | None = None) -> bool:
    """True when the cookie matches a live record of this user, made since the last password change."""
    now = _now(now)
    if not token or len(token) > 200:
        return False
    device = TrustedDevice.objects.filter(user=user, token_hash=_trusted_token_hash(token)).first()
    if device is None or device.revoked_at is not None or device.expires_at <= now:
        return False
    current = password_fingerprint(user)
    if not constant_time_compare(device.password_fingerprint, current):
        # The password changed since this browser was trusted: revoke every record made under an older password.
        TrustedDevice.objects.filter(user=user, revoked_at__isnull=True).exclude(password_fingerprint=current).update(
            revoked_at=now
        )
        return False
    TrustedDevice.objects.filter(pk=device.pk).update(last_used_at=now)
    return True


def trusted_devices_revoke(*, user, now: datetime | None = None) -> int:
    return TrustedDevice.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=_now(now))


# --- the two login steps --------------------------------------------------------------------------------------------


def two_factor_applies(device: TwoFactorDevice | None) -> bool:
    return device is not None and (device.enabled or device.required)


def login_password_step(*, user, trusted_token: str | None = None, now: datetime | None = None) -> PasswordStep:
    """After the password checked out: tokens for a user without 2FA (or on a trusted browser), else a preLoginToken.

    A user whose staff require 2FA but who has not set it up gets the secret to scan with the preLoginToken; the
    verify step then confirms it (the spec's `secretKey`).
    """
    now = _now(now)
    device = TwoFactorDevice.objects.filter(user=user).first()
    if not two_factor_applies(device):
        return PasswordStep(tokens=tokens_issue(user=user))

    rejected = False
    if trusted_token and device.enabled and not device.is_locked:
        if trusted_device_is_valid(user=user, token=trusted_token, now=now):
            return PasswordStep(tokens=tokens_issue(user=user))
        rejected = True

    with transaction.atomic():
        # Old login steps are kept a day for the admin's eyes, then swept here: no scheduler needed.
        PreLoginAttempt.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
        secret_key = uri = None
        if not device.enabled:
            device = TwoFactorDevice.objects.select_for_update().get(pk=device.pk)
            if not device.secret:
                device.secret = pyotp.random_base32()
                device.save(update_fields=["secret", "updated_at"])
            secret_key, uri = device.secret, otpauth_uri(user=user, secret=device.secret)
        token = _prelogin_issue(user=user, now=now)
    return PasswordStep(prelogin_token=token, secret_key=secret_key, otpauth_uri=uri, trusted_cookie_rejected=rejected)


def login_verify(
    *, prelogin_token: str, code: str, secret_key: str = "", issue_tokens: bool = True, now: datetime | None = None
) -> VerifySuccess:
    """The second login step. Raises TwoFactorError with one of the four spec errors.

    `issue_tokens=False` is for the admin's login, which opens a session instead of minting a JWT pair.
    """
    now = _now(now)
    claims = _prelogin_decode(prelogin_token, now)
    outcome = _verify_and_count(
        claims=claims,
        code=_normalise_code(code),
        secret_key="".join(secret_key.split()).upper(),
        issue_tokens=issue_tokens,
        now=now,
    )
    # Raised only here, after the transaction committed: a failure must still count.
    if isinstance(outcome, TwoFactorError):
        raise outcome
    return outcome


def _remaining(attempt: PreLoginAttempt, device: TwoFactorDevice) -> int:
    return max(0, min(ATTEMPTS_PER_LOGIN - attempt.failures, FAILURES_BEFORE_LOCK - device.failed_attempts))


@transaction.atomic
def _verify_and_count(
    *, claims: dict, code: str, secret_key: str, issue_tokens: bool, now: datetime
) -> VerifySuccess | TwoFactorError:
    user_id = int(claims["sub"])
    # Lock order everywhere: device, then attempt. Simultaneous verifies for one user queue here, so each one
    # reads the counters the previous one wrote.
    device = TwoFactorDevice.objects.select_for_update().filter(user_id=user_id).first()
    attempt = PreLoginAttempt.objects.select_for_update().filter(jti=claims["jti"], user_id=user_id).first()
    if attempt is None or attempt.completed_at is not None:
        return TwoFactorError(TIME_OUT, "This login step was already used or is unknown; sign in again.", 0)
    if attempt.expires_at <= now:
        return TwoFactorError(TIME_OUT, "The 5 minutes to enter the code have passed; sign in again.", 0)
    if not two_factor_applies(device) or not device.secret:
        return TwoFactorError(TIME_OUT, "Two-factor login was reset for this account; sign in again.", 0)
    user = get_user_model().objects.get(pk=user_id)
    if not constant_time_compare(claims["pwd"], password_fingerprint(user)[:16]):
        return TwoFactorError(TIME_OUT, "The password changed since this login started; sign in again.", 0)
    if device.is_locked or not user.is_active:
        return TwoFactorError(ACCOUNT_LOCKED, "Too many wrong codes: this account is locked until staff unlock it.", 0)
    if attempt.failures >= ATTEMPTS_PER_LOGIN:
        return TwoFactorError(RETRIES_EXCEEDED, "Too many wrong codes for this login; sign in again.", 0)

    enrolling = not device.enabled
    method = ""
    step = None
    if enrolling:
        # Setting up during login: the code must come from the secret this login handed out (`secretKey`).
        if secret_key and constant_time_compare(secret_key, device.secret):
            step = _totp_step(device.secret, code, now)
            method = "totp" if step is not None else ""
    else:
        step = _totp_step(device.secret, code, now)
        if step is not None and device.last_used_step is not None and step <= device.last_used_step:
            step = None  # this code (or an older one) was already used: a replay
        if step is not None:
            method = "totp"
        elif len(code) == _BACKUP_LENGTH and _backup_code_use(device, code, now):
            method = "backup_code"

    if not method:
        attempt.failures += 1
        device.failed_attempts += 1
        if device.failed_attempts >= FAILURES_BEFORE_LOCK:
            device.locked_at = now
        attempt.save(update_fields=["failures"])
        device.save(update_fields=["failed_attempts", "locked_at", "updated_at"])
        if device.is_locked:
            return TwoFactorError(
                ACCOUNT_LOCKED,
                f"{FAILURES_BEFORE_LOCK} wrong codes in a row: this account is locked until staff unlock it.",
                0,
            )
        if attempt.failures >= ATTEMPTS_PER_LOGIN:
            return TwoFactorError(
                RETRIES_EXCEEDED, f"{ATTEMPTS_PER_LOGIN} wrong codes for this login; sign in again.", 0
            )
        if enrolling and not (secret_key and constant_time_compare(secret_key, device.secret)):
            message = "Send the secretKey this login gave you together with a code from the app."
        else:
            message = "The code is wrong or was already used."
        return TwoFactorError(CODE_VERIFY_FAILED, message, _remaining(attempt, device))

    device.failed_attempts = 0
    if step is not None:
        device.last_used_step = step
    backup_codes: list[str] = []
    if enrolling:
        device.enabled = True
        device.confirmed_at = now
        backup_codes = _backup_codes_replace(device)
    device.save()
    attempt.completed_at = now
    attempt.save(update_fields=["completed_at"])
    return VerifySuccess(
        tokens=tokens_issue(user=user) if issue_tokens else None,
        verified_token=_verified_token(user=user, method=method, now=now),
        user=user,
        backup_codes=backup_codes,
    )


# --- enrolment by a logged-in agent, and staff actions --------------------------------------------------------------


@transaction.atomic
def two_factor_enrol(*, user) -> Enrolment:
    """Start (or restart) setting up 2FA: a fresh secret, pending until confirmed with a code."""
    TwoFactorDevice.objects.get_or_create(user=user)
    device = TwoFactorDevice.objects.select_for_update().get(user=user)
    if device.enabled:
        raise StateConflict("Two-factor login is already on; staff can reset it in admin to set it up again.")
    device.secret = pyotp.random_base32()
    device.save(update_fields=["secret", "updated_at"])
    return Enrolment(secret_key=device.secret, otpauth_uri=otpauth_uri(user=user, secret=device.secret))


def two_factor_confirm(*, user, code: str, now: datetime | None = None) -> list[str]:
    """Turn 2FA on once the app shows the right code; returns the backup codes (shown this once)."""
    now = _now(now)
    with transaction.atomic():
        device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
        if device is None or not device.secret:
            raise StateConflict("Start with POST /api/auth/2fa/enrol to get a secret first.")
        if device.enabled:
            raise StateConflict("Two-factor login is already on.")
        step = _totp_step(device.secret, _normalise_code(code), now)
        if step is not None:
            device.enabled = True
            device.confirmed_at = now
            device.last_used_step = step  # the confirming code cannot be replayed to log in
            device.failed_attempts = 0
            device.save()
            return _backup_codes_replace(device)
    raise TwoFactorError(CODE_VERIFY_FAILED, "The code does not match the secret; check the app and try again.")


@transaction.atomic
def two_factor_reset(*, device: TwoFactorDevice, now: datetime | None = None) -> None:
    """Staff: forget the secret, backup codes and trusted browsers. If 2FA is required, the next login sets it up."""
    now = _now(now)
    device = TwoFactorDevice.objects.select_for_update().get(pk=device.pk)
    device.secret = ""
    device.enabled = False
    device.confirmed_at = None
    device.last_used_step = None
    device.failed_attempts = 0
    device.locked_at = None
    device.save()
    BackupCode.objects.filter(device=device).delete()
    trusted_devices_revoke(user=device.user, now=now)
    PreLoginAttempt.objects.filter(user=device.user, completed_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )


@transaction.atomic
def two_factor_unlock(*, device: TwoFactorDevice) -> None:
    """Staff: lift the lock and start the consecutive-failure count again."""
    TwoFactorDevice.objects.select_for_update().filter(pk=device.pk).update(
        locked_at=None, failed_attempts=0, updated_at=timezone.now()
    )


def backup_codes_remaining(*, device: TwoFactorDevice) -> int:
    return BackupCode.objects.filter(device=device, used_at__isnull=True).count()
