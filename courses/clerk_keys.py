"""Clerk's signing keys: CLERK_JWT_KEY, or the JWKS fetched from Clerk.

Used by courses/authentication.py, which checks session tokens with them; the
JWKS document itself is fetched by courses/clerk_gateway.py.
The JWKS lives in the Django cache (shared by all workers with Redis) and is
fetched by one process of the whole fleet at a time (a lease in the cache);
each process also keeps the parsed keys for LOCAL_KEYS_SECONDS, so a token
check usually costs a dictionary look-up. Clerk unreachable with nothing
cached: ServiceUnavailable (503). A stale copy serves through an outage of up
to JWKS_KEEP_SECONDS.
"""

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from courses import clerk_gateway
from courses.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"

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

CLERK_UNREACHABLE = _(
    "Sign-in cannot be checked right now because Clerk is unreachable. "
    "Try again shortly."
)
NOT_CONFIGURED = _("Sign-in is not configured on this server.")


class UnknownKey(Exception):
    """The JWKS has no key with this kid, even after a refetch."""


_local_lock = threading.Lock()
_fetch_lock = threading.Lock()


@dataclass
class _LocalKeys:
    keys: dict[str, Any]
    expires_at: float


_local_keys: dict[str, _LocalKeys] = {}
_parsed_keys: dict[tuple[str, str, str], Any] = {}
_pem_keys: dict[str, Any] = {}


def pem_key(pem: str) -> Any:
    """CLERK_JWT_KEY parsed (once per process); ServiceUnavailable if unusable."""
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


def jwks_key(jwks_url: str, kid: str) -> Any:
    """The key `kid` of the JWKS at jwks_url; UnknownKey if Clerk has none such."""
    local = _local_keys.get(jwks_url)
    if local is not None and local.expires_at > time.monotonic() and kid in local.keys:
        return local.keys[kid]
    keys, fetched = _jwks_keys(jwks_url)
    if kid not in keys and not fetched and _refetch_allowed(jwks_url):
        # A kid the shared copy lacks: Clerk may have rotated its keys.
        keys = _jwks_store(jwks_url, _jwks_fetch(jwks_url))
    if kid not in keys:
        raise UnknownKey(kid)
    return keys[kid]


def jwks_cache_key(jwks_url: str, kind: str) -> str:
    digest = hashlib.sha256(jwks_url.encode()).hexdigest()[:32]
    return f"clerk:{kind}:{digest}"


def _refetch_allowed(jwks_url: str) -> bool:
    # cache.add is atomic, so one process in the whole fleet wins each window.
    return cache.add(
        jwks_cache_key(jwks_url, "jwks-refetch"), 1, JWKS_REFETCH_COOLDOWN_SECONDS
    )


def _jwks_keys(jwks_url: str) -> tuple[dict[str, Any], bool]:
    """The key set from the shared cache, fetched when missing or due; and
    whether this call fetched it."""
    entry = cache.get(jwks_cache_key(jwks_url, "jwks"))
    if entry is not None and entry["refresh_after"] > time.time():
        return _jwks_remember(jwks_url, entry["keys"]), False
    # One fetch per process at a time; the others then find it in the cache.
    with _fetch_lock:
        entry = cache.get(jwks_cache_key(jwks_url, "jwks"))
        if entry is not None and entry["refresh_after"] > time.time():
            return _jwks_remember(jwks_url, entry["keys"]), False
        # And one per fleet: a process that loses the lease uses the copy it
        # has, or waits for the one the winner stores.
        lease = jwks_cache_key(jwks_url, "jwks-fetching")
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
            fresh = cache.get(jwks_cache_key(jwks_url, "jwks"))
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
        jwks_cache_set(
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
        entry = cache.get(jwks_cache_key(jwks_url, "jwks"))
        if entry is not None:
            return entry
        if cache.get(lease) is None:
            return None
    return None


def _jwks_fetch(jwks_url: str) -> list[dict[str, Any]]:
    """Clerk's signing keys (RS256 JWKs with a kid); ServiceUnavailable if none."""
    try:
        candidates = clerk_gateway.jwks_get(jwks_url)
    except clerk_gateway.ClerkUnavailable:
        raise ServiceUnavailable(CLERK_UNREACHABLE) from None
    usable = [jwk for jwk in candidates if _parsed_jwk(jwk) is not None]
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
    jwks_cache_set(
        jwks_url, jwks, refresh_after=now + JWKS_FRESH_SECONDS, fetched_at=now
    )
    return _jwks_remember(jwks_url, jwks)


def jwks_cache_set(
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
    cache.set(jwks_cache_key(jwks_url, "jwks"), entry, keep)


def _jwks_remember(jwks_url: str, jwks: list[dict[str, Any]]) -> dict[str, Any]:
    keys = {jwk["kid"]: _parsed_jwk(jwk) for jwk in jwks}
    keys = {kid: key for kid, key in keys.items() if key is not None}
    expires_at = time.monotonic() + LOCAL_KEYS_SECONDS
    with _local_lock:
        if len(_local_keys) > 8:
            _local_keys.clear()
        _local_keys[jwks_url] = _LocalKeys(keys=keys, expires_at=expires_at)
    return keys
