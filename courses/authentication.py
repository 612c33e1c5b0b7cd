"""Clerk session tokens for DRF: ClerkJWTAuthentication and the ClerkUser it returns.

With courses/clerk_gateway.py (Clerk's Backend API and webhooks) the only
module that talks to Clerk: this one fetches Clerk's keys (JWKS) and checks
session tokens; with courses/dev_tokens.py the only one that imports ``jwt``.
A token is accepted only if it is a session token (a `sid`, no access-token
type or claims) RS256-signed by a key of the configured Clerk instance, its
time, issuer, subject (a Clerk user id) and authorized-party claims hold, and
its student has not deleted their account. With DEBUG=True, and only then, a
token whose kid is dev_tokens.DEV_KEY_ID is checked against the local
development key instead (`manage.py dev_token`).

Who the user is (email, names) comes from their Student
(courses.services.students), read on every request from the shared cache or
the database, and created at their first request. Caching, from the outside
in: the JWKS lives in the Django cache (shared by all workers with Redis);
each process also keeps the parsed keys and the tokens it accepted, for a
minute, so a signed-in request usually costs a hash, a dictionary look-up and
the student's look-up. Clerk unreachable with nothing cached: 503.
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
import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from courses import clerk_gateway, dev_tokens
from courses.clerk_gateway import CLERK_USER_ID
from courses.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
# A Clerk session token is well under 2 KB; anything far larger is not one,
# and refusing it early bounds the work a single header can cause.
MAX_TOKEN_LENGTH = 8192

# Clerk's own SDKs re-read the key set every few minutes.
JWKS_FRESH_SECONDS = 300
# A stale copy outlives a Clerk outage: used only when a refresh fails.
JWKS_KEEP_SECONDS = 24 * 3600
# After a failed refresh, serve the stale copy this long before trying again,
# so an outage costs one slow request per interval, not one per request.
JWKS_RETRY_SECONDS = 30
# An unknown kid (a rotated key, or a forged token) refetches at most this often.
JWKS_REFETCH_COOLDOWN_SECONDS = 30
# Parsed keys kept in each process, so a request costs no cache round trip.
LOCAL_KEYS_SECONDS = 60
# The frontend sends the same token for up to a minute: each process remembers
# the tokens it accepted (by digest) and their claims, as long as it keeps
# keys. Whom they name is looked up again on every request (a deleted student
# is refused at once).
VERIFIED_TOKENS_MAX = 1024
# RFC 9068 access tokens (Clerk's OAuth tokens among them) name their client
# and scopes; a session token has neither.
ACCESS_TOKEN_CLAIMS = ("client_id", "scope", "scp")

CLERK_UNREACHABLE = _(
    "Sign-in cannot be checked right now because Clerk is unreachable. "
    "Try again shortly."
)
NOT_CONFIGURED = _("Sign-in is not configured on this server.")


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
            expires_at=time.monotonic() + LOCAL_KEYS_SECONDS,
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


# --- Keys: CLERK_JWT_KEY, or the JWKS -----------------------------------------------

_local_lock = threading.Lock()
_fetch_lock = threading.Lock()


@dataclass
class _LocalKeys:
    keys: dict[str, Any]
    expires_at: float


_local_keys: dict[str, _LocalKeys] = {}
_parsed_keys: dict[tuple[str, str, str], Any] = {}
_pem_keys: dict[str, Any] = {}


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
        return _pem_key(settings.CLERK_JWT_KEY)
    jwks_url = settings.CLERK_JWKS_URL
    if not jwks_url:
        logger.error("Neither CLERK_JWT_KEY nor CLERK_JWKS_URL is set")
        raise ServiceUnavailable(NOT_CONFIGURED)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _refused(_("The session token has no key id (kid)."), "no_kid")
    return _jwks_key(jwks_url, kid)


def _pem_key(pem: str) -> Any:
    key = _pem_keys.get(pem)
    if key is not None:
        return key
    try:
        key = jwt.algorithms.RSAAlgorithm(
            jwt.algorithms.RSAAlgorithm.SHA256
        ).prepare_key(_normalized_pem(pem))
    except (jwt.PyJWTError, ValueError, TypeError):
        logger.error("CLERK_JWT_KEY is not an RSA public key in PEM form")
        raise ServiceUnavailable(NOT_CONFIGURED) from None
    if not hasattr(key, "verify"):
        logger.error("CLERK_JWT_KEY holds a private key; set the public key")
        raise ServiceUnavailable(NOT_CONFIGURED)
    with _local_lock:
        if len(_pem_keys) > 8:
            _pem_keys.clear()
        _pem_keys[pem] = key
    return key


def _normalized_pem(pem: str) -> str:
    # Environment variables often carry the PEM on one line: with literal "\n",
    # with spaces, or without the BEGIN/END lines.
    pem = pem.replace("\\n", "\n").strip()
    body = pem.replace("-----BEGIN PUBLIC KEY-----", "").replace(
        "-----END PUBLIC KEY-----", ""
    )
    if "-----" in body:
        return pem  # another PEM type: the parser will say what it is
    body = "".join(body.split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n".format(
        "\n".join(lines)
    )


def _jwks_key(jwks_url: str, kid: str) -> Any:
    local = _local_keys.get(jwks_url)
    if local is not None and local.expires_at > time.monotonic() and kid in local.keys:
        return local.keys[kid]
    keys, fetched = _jwks_keys(jwks_url)
    if kid not in keys and not fetched and _refetch_allowed(jwks_url):
        # A kid the shared copy lacks: Clerk may have rotated its keys.
        keys = _jwks_store(jwks_url, _jwks_fetch(jwks_url))
    if kid not in keys:
        raise _refused(
            _("The session token was signed with an unknown key."), "unknown_key"
        )
    return keys[kid]


def _jwks_cache_key(jwks_url: str, kind: str) -> str:
    digest = hashlib.sha256(jwks_url.encode()).hexdigest()[:32]
    return f"clerk:{kind}:{digest}"


def _refetch_allowed(jwks_url: str) -> bool:
    # cache.add is atomic, so one process in the whole fleet wins each window.
    return cache.add(
        _jwks_cache_key(jwks_url, "jwks-refetch"), 1, JWKS_REFETCH_COOLDOWN_SECONDS
    )


def _jwks_keys(jwks_url: str) -> tuple[dict[str, Any], bool]:
    """The key set from the shared cache, fetched when missing or due; and
    whether this call fetched it."""
    entry = cache.get(_jwks_cache_key(jwks_url, "jwks"))
    if entry is not None and entry["refresh_after"] > time.time():
        return _jwks_remember(jwks_url, entry["keys"]), False
    # One fetch per process at a time; the others then find it in the cache.
    with _fetch_lock:
        entry = cache.get(_jwks_cache_key(jwks_url, "jwks"))
        if entry is not None and entry["refresh_after"] > time.time():
            return _jwks_remember(jwks_url, entry["keys"]), False
        # And one per fleet: a process that loses the lease uses the copy it
        # has, or waits for the one the winner stores.
        lease = _jwks_cache_key(jwks_url, "jwks-fetching")
        lease_seconds = settings.CLERK_HTTP_TIMEOUT_SECONDS + 1
        has_lease = cache.add(lease, 1, lease_seconds)
        if not has_lease:
            if entry is not None:
                return _jwks_remember(jwks_url, entry["keys"]), False
            stored = _jwks_wait_for_fleet(jwks_url, lease, lease_seconds)
            if stored is not None:
                return _jwks_remember(jwks_url, stored["keys"]), False
        else:
            # The previous holder may have stored a fresh copy and let the
            # lease go between our last read and the add.
            fresh = cache.get(_jwks_cache_key(jwks_url, "jwks"))
            if fresh is not None and fresh["refresh_after"] > time.time():
                cache.delete(lease)
                return _jwks_remember(jwks_url, fresh["keys"]), False
        try:
            return _jwks_fetch_and_store(jwks_url, entry)
        finally:
            if has_lease:
                cache.delete(lease)


def _jwks_fetch_and_store(
    jwks_url: str, entry: dict[str, Any] | None
) -> tuple[dict[str, Any], bool]:
    try:
        jwks = _jwks_fetch(jwks_url)
    except ServiceUnavailable:
        fetched_at = entry.get("fetched_at", 0.0) if entry is not None else 0.0
        if time.time() - fetched_at >= JWKS_KEEP_SECONDS:
            raise
        logger.warning("Serving the cached Clerk JWKS while Clerk is unreachable")
        _jwks_cache_set(
            jwks_url,
            entry["keys"],
            refresh_after=time.time() + JWKS_RETRY_SECONDS,
            fetched_at=fetched_at,
        )
        return _jwks_remember(jwks_url, entry["keys"]), False
    return _jwks_store(jwks_url, jwks), True


def _jwks_wait_for_fleet(
    jwks_url: str, lease: str, seconds: float
) -> dict[str, Any] | None:
    """The key set another process is fetching, once stored; None if it gave up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        entry = cache.get(_jwks_cache_key(jwks_url, "jwks"))
        if entry is not None:
            return entry
        if cache.get(lease) is None:
            return None
    return None


def _jwks_fetch(jwks_url: str) -> list[dict[str, Any]]:
    """Clerk's signing keys (RS256 JWKs with a kid); ServiceUnavailable if none."""
    try:
        response = requests.get(
            jwks_url,
            timeout=settings.CLERK_HTTP_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        logger.warning(
            "Clerk JWKS unreachable at %s (%s)", jwks_url, type(exc).__name__
        )
        raise ServiceUnavailable(CLERK_UNREACHABLE) from None
    if response.status_code != 200:
        logger.warning(
            "Clerk JWKS at %s answered HTTP %s", jwks_url, response.status_code
        )
        raise ServiceUnavailable(CLERK_UNREACHABLE)
    try:
        document = response.json()
    except ValueError:
        document = None
    candidates = document.get("keys") if isinstance(document, dict) else None
    usable = [jwk for jwk in candidates or [] if _parsed_jwk(jwk) is not None]
    if not usable:
        logger.warning("Clerk JWKS at %s holds no usable RS256 key", jwks_url)
        raise ServiceUnavailable(CLERK_UNREACHABLE)
    return usable


def _parsed_jwk(jwk: Any) -> Any:
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        return None
    if not isinstance(jwk.get("kid"), str) or jwk.get("use") not in (None, "sig"):
        return None
    if jwk.get("alg") not in (None, ALGORITHM):
        return None
    fingerprint = (jwk["kid"], jwk.get("n"), jwk.get("e"))
    if not all(isinstance(part, str) for part in fingerprint):
        return None
    # Parsing an RSA JWK costs far more than a look-up; the key set is re-read
    # every minute and on each unknown kid, its keys rarely change.
    key = _parsed_keys.get(fingerprint)
    if key is not None:
        return key
    try:
        key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    with _local_lock:
        if len(_parsed_keys) > 32:
            _parsed_keys.clear()
        _parsed_keys[fingerprint] = key
    return key


def _jwks_store(jwks_url: str, jwks: list[dict[str, Any]]) -> dict[str, Any]:
    now = time.time()
    _jwks_cache_set(
        jwks_url, jwks, refresh_after=now + JWKS_FRESH_SECONDS, fetched_at=now
    )
    return _jwks_remember(jwks_url, jwks)


def _jwks_cache_set(
    jwks_url: str,
    jwks: list[dict[str, Any]],
    *,
    refresh_after: float,
    fetched_at: float,
) -> None:
    # Kept JWKS_KEEP_SECONDS after the last successful fetch, not after the
    # last failed one: an outage that lasts longer ends in 503s.
    keep = max(1, fetched_at + JWKS_KEEP_SECONDS - time.time())
    entry = {"keys": jwks, "refresh_after": refresh_after, "fetched_at": fetched_at}
    cache.set(_jwks_cache_key(jwks_url, "jwks"), entry, keep)


def _jwks_remember(jwks_url: str, jwks: list[dict[str, Any]]) -> dict[str, Any]:
    keys = {jwk["kid"]: _parsed_jwk(jwk) for jwk in jwks}
    keys = {kid: key for kid, key in keys.items() if key is not None}
    expires_at = time.monotonic() + LOCAL_KEYS_SECONDS
    with _local_lock:
        if len(_local_keys) > 8:
            _local_keys.clear()
        _local_keys[jwks_url] = _LocalKeys(keys=keys, expires_at=expires_at)
    return keys


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
