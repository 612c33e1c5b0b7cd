"""Clerk session tokens for DRF: ClerkJWTAuthentication and the ClerkUser it returns.

Keys come from courses/clerk_keys.py (CLERK_JWT_KEY, or the JWKS that
courses/clerk_gateway.py, the only module that calls Clerk, fetches); with
clerk_keys.py and courses/dev_tokens.py the only modules that import ``jwt``.
A token is accepted only if it is a session token (a `sid`, no access-token
type or claims) RS256-signed by a key of the configured Clerk instance, its
time, issuer, subject (a Clerk user id) and authorized-party claims hold, and
its student has not deleted their account. With DEBUG=True, and only then, a
token whose kid is dev_tokens.DEV_KEY_ID is checked against the local
development key instead (`manage.py dev_token`).

Who the user is (email, names) comes from their Student
(courses.services.students), read on every request from the shared cache or
the database, and created at their first request. Caching, from the outside
in: the JWKS lives in the Django cache (clerk_keys); each process also keeps
the parsed keys and the tokens it accepted, for a minute, so a signed-in
request usually costs a hash, a dictionary look-up and the student's look-up.
Clerk unreachable with nothing cached: 503.
"""

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from courses import clerk_gateway, clerk_keys, dev_tokens
from courses.clerk_gateway import CLERK_USER_ID
from courses.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

ALGORITHM = clerk_keys.ALGORITHM
# A Clerk session token is well under 2 KB; anything far larger is not one,
# and refusing it early bounds the work a single header can cause.
MAX_TOKEN_LENGTH = 8192
# The frontend sends the same token for up to a minute: each process remembers
# the tokens it accepted (by digest) and their claims, as long as it keeps
# keys. Whom they name is looked up again on every request (a deleted student
# is refused at once).
VERIFIED_TOKENS_MAX = 1024
VERIFIED_TOKENS_SECONDS = clerk_keys.LOCAL_KEYS_SECONDS
# RFC 9068 access tokens (Clerk's OAuth tokens among them) name their client
# and scopes; a session token has neither.
ACCESS_TOKEN_CLAIMS = ("client_id", "scope", "scp")

CLERK_UNREACHABLE = clerk_keys.CLERK_UNREACHABLE
NOT_CONFIGURED = clerk_keys.NOT_CONFIGURED


class ClerkUser:
    """A signed-in Clerk user; no Django User row is created."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(
        self,
        *,
        clerk_user_id: str,
        email: str = "",
        first_name: str = "",
        last_name: str = "",
    ) -> None:
        self.clerk_user_id = clerk_user_id
        self.email = email
        self.first_name = first_name
        self.last_name = last_name

    @property
    def pk(self) -> str:
        # DRF's UserRateThrottle keys its counters on the user's pk.
        return self.clerk_user_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __str__(self) -> str:
        return self.clerk_user_id

    def __repr__(self) -> str:
        return f"<ClerkUser {self.clerk_user_id}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClerkUser):
            return NotImplemented
        return self.clerk_user_id == other.clerk_user_id

    def __hash__(self) -> int:
        return hash(self.clerk_user_id)


class ClerkJWTAuthentication(authentication.BaseAuthentication):
    """Authenticate `Authorization: Bearer <Clerk session token>`.

    No header: anonymous (None). A header that is not a valid session token:
    401 naming the reason. Clerk unreachable with nothing cached: 503.
    """

    def authenticate(self, request: Request) -> tuple[ClerkUser, dict] | None:
        token = _bearer_token(request)
        if token is None:
            return None
        return _authenticated(token)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


# --- The header and the token ----------------------------------------------------


def _refused(detail: Any, code: str) -> exceptions.AuthenticationFailed:
    # The reason goes to the log as a code; the token itself never does.
    logger.info("Clerk session token refused: %s", code)
    return exceptions.AuthenticationFailed(detail, code=code)


def _bearer_token(request: Request) -> str | None:
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not parts:
        return None
    if parts[0].lower() != "bearer":
        raise _refused(
            _("Use the Bearer scheme: Authorization: Bearer <session token>."),
            "wrong_scheme",
        )
    if len(parts) == 1:
        raise _refused(
            _("The Authorization header has no token after Bearer."), "no_token"
        )
    if len(parts) > 2 or len(parts[1]) > MAX_TOKEN_LENGTH:
        raise _refused(_("The session token is malformed."), "malformed")
    return parts[1]


@dataclass
class _Verified:
    config: tuple
    claims: dict[str, Any]
    expires_at: float


_verified_lock = threading.Lock()
_verified_tokens: OrderedDict[bytes, _Verified] = OrderedDict()


def _authenticated(token: str) -> tuple[ClerkUser, dict[str, Any]]:
    """The user and claims of a valid token. The checks of a token are
    remembered per process, so the same token sent again costs neither a
    signature check nor a cache read; its student is looked up every time."""
    claims = _verified_claims(token)
    return _user_from_claims(claims), dict(claims)


def _verified_claims(token: str) -> dict[str, Any]:
    digest = hashlib.sha256(token.encode()).digest()
    config = (
        # A development token remembered under DEBUG=True must not outlive it.
        settings.DEBUG,
        settings.CLERK_JWT_KEY,
        settings.CLERK_JWKS_URL,
        settings.CLERK_ISSUER,
        tuple(settings.CLERK_AUTHORIZED_PARTIES),
        settings.CLERK_CLOCK_SKEW_SECONDS,
    )
    remembered = _verified_tokens.get(digest)
    if (
        remembered is not None
        and remembered.config == config
        and remembered.expires_at > time.monotonic()
        # Checked on every use: a remembered token still expires on time.
        and int(remembered.claims["exp"])
        > time.time() - settings.CLERK_CLOCK_SKEW_SECONDS
    ):
        return remembered.claims
    claims = _verify(token)
    with _verified_lock:
        _verified_tokens[digest] = _Verified(
            config=config,
            claims=claims,
            expires_at=time.monotonic() + VERIFIED_TOKENS_SECONDS,
        )
        while len(_verified_tokens) > VERIFIED_TOKENS_MAX:
            _verified_tokens.popitem(last=False)
    return claims


def _unverified_header(token: str) -> dict[str, Any]:
    # Only to pick the algorithm and key; jwt.decode checks it all again.
    segment = token.partition(".")[0]
    try:
        header = json.loads(
            base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        )
    except (ValueError, binascii.Error, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise _refused(_("The session token is malformed."), "malformed")
    return header


def _verify(token: str) -> dict[str, Any]:
    header = _unverified_header(token)
    # Checked before any key look-up, so "none" or HS256 tokens cost no fetch.
    if header.get("alg") != ALGORITHM:
        raise _refused(
            _("The session token must be signed with RS256."), "wrong_algorithm"
        )
    # Clerk's session tokens say "JWT"; an OAuth access token says "at+jwt"
    # (RFC 9068) and is not a proof of a signed-in browser session.
    token_type = header.get("typ", "JWT")
    if not isinstance(token_type, str) or token_type.upper() != "JWT":
        raise _refused(
            _("Only Clerk session tokens are accepted here."), "wrong_token_type"
        )
    _check_issuer_configured()
    key = _verification_key(header)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            leeway=settings.CLERK_CLOCK_SKEW_SECONDS,
            issuer=settings.CLERK_ISSUER or None,
            # Every Clerk session token names its session (sid).
            options={"require": ["exp", "sub", "sid"]},
        )
    except jwt.PyJWTError as exc:
        raise _refusal_for(exc) from None
    _check_session_claims(claims)
    _check_authorized_party(claims)
    return claims


def _check_issuer_configured() -> None:
    # Without an expected issuer, a token from any Clerk instance whose key
    # this server trusts would pass: allowed on a developer machine only.
    # `manage.py check --deploy` reports the same (courses.E001).
    if not settings.CLERK_ISSUER and not settings.DEBUG:
        logger.error("CLERK_ISSUER is not set: session tokens cannot be verified")
        raise ServiceUnavailable(NOT_CONFIGURED)


def _check_session_claims(claims: dict[str, Any]) -> None:
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.strip():
        raise _refused(_("The session token does not name a user."), "no_subject")
    if not CLERK_USER_ID.fullmatch(sub):
        raise _refused(
            _("The session token does not name a Clerk user."), "bad_subject"
        )
    sid = claims["sid"]
    if not isinstance(sid, str) or not sid.strip():
        raise _refused(
            _("The session token lacks the “%(claim)s” claim.") % {"claim": "sid"},
            "missing_claim",
        )
    if any(name in claims for name in ACCESS_TOKEN_CLAIMS):
        raise _refused(
            _("Only Clerk session tokens are accepted here."), "wrong_token_type"
        )


def _refusal_for(exc: jwt.PyJWTError) -> exceptions.AuthenticationFailed:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return _refused(
            _("The session token lacks the “%(claim)s” claim.") % {"claim": exc.claim},
            "missing_claim",
        )
    # Subclasses before their parents: InvalidSignatureError is a DecodeError.
    reasons = [
        (jwt.ExpiredSignatureError, _("The session token has expired."), "expired"),
        (
            jwt.ImmatureSignatureError,
            _("The session token is not valid yet."),
            "not_yet_valid",
        ),
        (
            jwt.InvalidSignatureError,
            _("The session token's signature is invalid."),
            "bad_signature",
        ),
        (
            jwt.InvalidIssuerError,
            _("The session token was issued by another Clerk instance."),
            "wrong_issuer",
        ),
        (
            jwt.InvalidAudienceError,
            _("The session token is meant for another audience."),
            "wrong_audience",
        ),
        (
            jwt.InvalidIssuedAtError,
            _("The session token has an invalid issue time."),
            "bad_issued_at",
        ),
        (
            jwt.InvalidAlgorithmError,
            _("The session token must be signed with RS256."),
            "wrong_algorithm",
        ),
        (jwt.DecodeError, _("The session token is malformed."), "malformed"),
    ]
    for exc_class, detail, code in reasons:
        if isinstance(exc, exc_class):
            return _refused(detail, code)
    return _refused(_("The session token is invalid."), "invalid")


def _check_authorized_party(claims: dict[str, Any]) -> None:
    # As in Clerk's SDKs: a token without azp (a backend-issued one) passes.
    azp = claims.get("azp")
    if not azp:
        return
    allowed = {party.rstrip("/") for party in settings.CLERK_AUTHORIZED_PARTIES}
    if not isinstance(azp, str) or azp.rstrip("/") not in allowed:
        raise _refused(
            _("The session token was issued for an origin that is not authorized."),
            "unauthorized_party",
        )


# --- The key a token is checked with -------------------------------------------


def _verification_key(header: dict[str, Any]) -> Any:
    # Development tokens: with DEBUG off the local key is never even read.
    if settings.DEBUG and header.get("kid") == dev_tokens.DEV_KEY_ID:
        key = dev_tokens.dev_public_key()
        if key is None:
            raise _refused(
                _("The session token was signed with an unknown key."), "unknown_key"
            )
        return key
    if settings.CLERK_JWT_KEY:
        return clerk_keys.pem_key(settings.CLERK_JWT_KEY)
    jwks_url = settings.CLERK_JWKS_URL
    if not jwks_url:
        logger.error("Neither CLERK_JWT_KEY nor CLERK_JWKS_URL is set")
        raise ServiceUnavailable(NOT_CONFIGURED)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _refused(_("The session token has no key id (kid)."), "no_kid")
    try:
        return clerk_keys.jwks_key(jwks_url, kid)
    except clerk_keys.UnknownKey:
        raise _refused(
            _("The session token was signed with an unknown key."), "unknown_key"
        ) from None


# --- Who the user is: their Student ---------------------------------------------


def _claim_str(claims: dict[str, Any], *names: str) -> str:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _user_from_claims(claims: dict[str, Any]) -> ClerkUser:
    # Imported here: DRF imports this module while rest_framework.views is
    # still being imported, before the services can be.
    from courses.services.students import (
        StudentDeleted,
        student_identity_for_sign_in,
    )

    clerk_user_id = claims["sub"]
    # A session token customised to carry the email (Clerk's default one
    # does not) creates a new student without a Backend API call.
    claimed = clerk_gateway.user_from_dict(
        {
            "id": clerk_user_id,
            "first_name": _claim_str(claims, "first_name", "given_name"),
            "last_name": _claim_str(claims, "last_name", "family_name"),
            "primary_email_address_id": "claim",
            "email_addresses": [
                {"id": "claim", "email_address": _claim_str(claims, "email")}
            ],
        }
    )
    try:
        identity = student_identity_for_sign_in(
            clerk_user_id=clerk_user_id, claimed=claimed
        )
    except StudentDeleted:
        raise _refused(_("This account has been deleted."), "account_deleted") from None
    except clerk_gateway.ClerkUserNotFound:
        raise _refused(_("This Clerk user no longer exists."), "unknown_user") from None
    except clerk_gateway.ClerkUnavailable:
        raise ServiceUnavailable(CLERK_UNREACHABLE) from None
    return ClerkUser(
        clerk_user_id=clerk_user_id,
        email=identity.email,
        first_name=identity.first_name,
        last_name=identity.last_name,
    )
