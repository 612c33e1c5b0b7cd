"""Development session tokens: Clerk-shaped RS256 tokens signed by a local key.

`manage.py dev_token` prints one, so that signed-in endpoints can be tried
without a Clerk account. The key pair lives in DEV_TOKEN_KEY_FILE (git-ignored,
created on first use). Everything here refuses to work unless DEBUG=True, and
ClerkJWTAuthentication asks for the public key only then: with DEBUG off the
file is never read and a development token is an unknown key like any other.
"""

import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

# The `kid` of development tokens; Clerk's own key ids start with "ins_".
DEV_KEY_ID = "dev_local"
DEV_TOKEN_LIFETIME_SECONDS = 24 * 3600
DEFAULT_USER_ID = "user_dev"
DEFAULT_EMAIL = "dev@example.com"


class DevTokensDisabled(Exception):
    """Development tokens exist only with DEBUG=True."""


@dataclass(frozen=True)
class DevToken:
    token: str
    claims: dict[str, Any]
    key_file: Path


def dev_token_create(
    *, clerk_user_id: str = DEFAULT_USER_ID, email: str = DEFAULT_EMAIL
) -> DevToken:
    """A session token this server accepts while DEBUG=True, shaped like Clerk's:
    RS256, sub, sid, iat, nbf, exp, azp (FRONTEND_URL's origin), iss when
    CLERK_ISSUER is set, and the email claim (so no Clerk look-up is needed)."""
    if not settings.DEBUG:
        raise DevTokensDisabled
    key_file = Path(settings.DEV_TOKEN_KEY_FILE)
    private_key = _private_key_get_or_create(key_file)
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": clerk_user_id,
        "sid": f"sess_dev_{secrets.token_hex(12)}",
        "iat": now,
        "nbf": now,
        "exp": now + DEV_TOKEN_LIFETIME_SECONDS,
        "azp": _origin(settings.FRONTEND_URL),
        "email": email,
    }
    if settings.CLERK_ISSUER:
        claims["iss"] = settings.CLERK_ISSUER
    token = jwt.encode(
        claims,
        private_key,
        algorithm="RS256",
        headers={"kid": DEV_KEY_ID, "typ": "JWT"},
    )
    return DevToken(token=token, claims=claims, key_file=key_file)


_lock = threading.Lock()
_public_keys: dict[tuple[str, int], rsa.RSAPublicKey] = {}


def dev_public_key() -> rsa.RSAPublicKey | None:
    """The public half of the local key; None without DEBUG or without a key file.

    Re-read when the file changes (a new key pair after deleting it).
    """
    if not settings.DEBUG:
        return None
    key_file = Path(settings.DEV_TOKEN_KEY_FILE)
    try:
        version = (str(key_file), key_file.stat().st_mtime_ns)
    except OSError:
        return None
    key = _public_keys.get(version)
    if key is None:
        try:
            key = _private_key_load(key_file).public_key()
        except (OSError, ValueError, TypeError):
            return None
        with _lock:
            _public_keys.clear()
            _public_keys[version] = key
    return key


def _private_key_get_or_create(key_file: Path) -> rsa.RSAPrivateKey:
    if not key_file.exists():
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            # Readable by its owner only; O_EXCL: a concurrent first run keeps
            # the key written first.
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
    return _private_key_load(key_file)


def _private_key_load(key_file: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{key_file} does not hold an RSA private key")
    return key


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
