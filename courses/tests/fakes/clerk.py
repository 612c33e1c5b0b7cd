"""A fake Clerk instance on 127.0.0.1: its JWKS, its Backend API's user look-up,
and real RS256 session tokens signed with PyJWT.

Usable from tests (the `fake_clerk` fixture), benchmarks and fuzzers::

    with FakeClerk() as clerk:
        os.environ.update(clerk.env())           # or the pytest `settings` fixture
        clerk.add_user("user_1", email="ada@example.com", first_name="Ada")
        token = clerk.issue_token(sub="user_1")  # Clerk's default claims, no email
        requests.get(url, headers={"Authorization": f"Bearer {token}"})
        assert clerk.jwks_fetches <= 1
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWKS_PATH = "/.well-known/jwks.json"
USERS_PATH = "/v1/users/"
DEFAULT_AUTHORIZED_PARTY = "http://localhost:3000"


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def public_key_pem(private_key: rsa.RSAPrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


class FakeClerk:
    """Serves a JWKS and `GET /v1/users/{id}`; signs session tokens.

    `url` is the base URL; `jwks_url`, `api_url` (ends in /v1), `issuer`,
    `secret_key` and `authorized_party` are what the settings point at.
    Every request is counted by path (`count()`, `jwks_fetches`,
    `user_fetches`). Faults: `set_delay()`, `fail()`, `heal()`, `stop()`,
    `restart()` (same port).
    """

    def __init__(
        self,
        *,
        secret_key: str = "sk_test_fake_clerk",  # noqa: S107
        authorized_party: str = DEFAULT_AUTHORIZED_PARTY,
    ) -> None:
        self.secret_key = secret_key
        self.authorized_party = authorized_party
        self.port = 0
        self.users: dict[str, dict[str, Any]] = {}
        self._private_keys: dict[str, rsa.RSAPrivateKey] = {}
        self._published: list[str] = []
        self.kid = ""
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._delays: dict[str, float] = {}
        self._faults: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.add_key()

    # --- Life cycle ------------------------------------------------------------

    def start(self) -> "FakeClerk":
        """Listen on 127.0.0.1 (a free port the first time, the same one after)."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.clerk = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-clerk-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: connections to the port are refused until restart()."""
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def is_running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> "FakeClerk":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- Where it is ------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    @property
    def api_url(self) -> str:
        return self.url + "/v1"

    @property
    def issuer(self) -> str:
        # Clerk's issuer is the instance's Frontend API URL.
        return self.url

    def settings(self) -> dict[str, Any]:
        """Django settings pointing at this fake (names as in config/settings.py)."""
        return {
            "CLERK_JWKS_URL": self.jwks_url,
            "CLERK_API_URL": self.api_url,
            "CLERK_SECRET_KEY": self.secret_key,
            "CLERK_ISSUER": self.issuer,
            "CLERK_AUTHORIZED_PARTIES": [self.authorized_party],
            "CLERK_JWT_KEY": "",
        }

    def env(self) -> dict[str, str]:
        """The same as environment variables, for a server started in a subprocess."""
        return {
            name: ",".join(value) if isinstance(value, list) else str(value)
            for name, value in self.settings().items()
        }

    # --- Keys ---------------------------------------------------------------------

    def add_key(
        self, kid: str | None = None, *, publish: bool = True, use: bool = True
    ) -> str:
        """Generate an RSA key; publish it in the JWKS; sign with it from now on
        when `use` is true. Returns its kid."""
        kid = kid or f"ins_{uuid.uuid4().hex[:24]}"
        with self._lock:
            self._private_keys[kid] = generate_rsa_key()
            if publish:
                self._published.append(kid)
            if use:
                self.kid = kid
        return kid

    def rotate_key(self) -> str:
        """Publish a new key and sign with it; the old one stays published."""
        return self.add_key()

    def publish_key(self, kid: str) -> None:
        with self._lock:
            if kid not in self._published:
                self._published.append(kid)

    def unpublish_key(self, kid: str) -> None:
        with self._lock:
            if kid in self._published:
                self._published.remove(kid)

    def private_key(self, kid: str | None = None) -> rsa.RSAPrivateKey:
        return self._private_keys[kid or self.kid]

    def public_key_pem(self, kid: str | None = None) -> str:
        """What CLERK_JWT_KEY holds: the PEM public key of `kid` (default: current)."""
        return public_key_pem(self.private_key(kid))

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {
                "keys": [
                    public_jwk(self._private_keys[kid], kid) for kid in self._published
                ]
            }

    # --- Tokens --------------------------------------------------------------------

    def claims(
        self, sub: str | None = "user_test", *, expires_in: int = 60, **claims: Any
    ) -> dict[str, Any]:
        """Clerk's default session-token claims; a claim given as None is left out."""
        now = int(time.time())
        payload = {
            "azp": self.authorized_party,
            "exp": now + expires_in,
            "iat": now,
            "iss": self.issuer,
            "nbf": now - 5,
            "sid": f"sess_{uuid.uuid4().hex[:24]}",
            "sub": sub,
        }
        payload.update(claims)
        return {name: value for name, value in payload.items() if value is not None}

    def issue_token(
        self,
        sub: str | None = "user_test",
        *,
        kid: str | None = None,
        signing_key: rsa.RSAPrivateKey | None = None,
        algorithm: str = "RS256",
        headers: dict[str, Any] | None = None,
        expires_in: int = 60,
        **claims: Any,
    ) -> str:
        """A session token for `sub`, signed RS256 with the current key.

        `kid`: sign with that key and name it in the header (None in `headers`
        drops the kid). `signing_key`: sign with another private key while the
        header keeps `kid`. `algorithm="none"` or `"HS256"` (HMAC keyed with the
        PEM public key, the classic confusion attack) forge tokens for tests.
        Claims override the defaults (exp, iat, nbf, iss, azp, sid, sub);
        `expires_in` sets exp from now (Clerk's tokens live 60 seconds).
        """
        payload = self.claims(sub, expires_in=expires_in, **claims)
        kid = kid or self.kid
        header: dict[str, Any] = {"kid": kid, **(headers or {})}
        header = {name: value for name, value in header.items() if value is not None}
        if algorithm == "HS256":
            return self._forge_hs256(payload, header, self.public_key_pem(kid).encode())
        if algorithm == "none":
            return jwt.encode(payload, None, algorithm="none", headers=header)
        key = signing_key or self.private_key(kid)
        return jwt.encode(payload, key, algorithm=algorithm, headers=header)

    @staticmethod
    def _forge_hs256(
        payload: dict[str, Any], header: dict[str, Any], secret: bytes
    ) -> str:
        # PyJWT refuses an asymmetric key as an HMAC secret, so sign by hand.
        signing_input = "{}.{}".format(
            _b64url_json({"alg": "HS256", "typ": "JWT", **header}),
            _b64url_json(payload),
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(mac)}"

    @staticmethod
    def tamper(token: str, **claims: Any) -> str:
        """The token with its payload changed and its signature kept."""
        header, payload, signature = token.split(".")
        decoded = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
        decoded.update(claims)
        return f"{header}.{_b64url_json(decoded)}.{signature}"

    def authorization(self, sub: str | None = "user_test", **claims: Any) -> str:
        """`Bearer <token>`, for an Authorization header."""
        return f"Bearer {self.issue_token(sub, **claims)}"

    # --- Backend API users -----------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        other_emails: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """A user as Clerk's Backend API returns it; `email` is the primary one
        (listed after `other_emails`), None for a user with no email."""
        addresses = [
            {
                "id": f"idn_{index}",
                "object": "email_address",
                "email_address": address,
                "verification": {"status": "verified"},
            }
            for index, address in enumerate([*other_emails, email])
            if address is not None
        ]
        user = {
            "id": user_id,
            "object": "user",
            "first_name": first_name,
            "last_name": last_name,
            "primary_email_address_id": addresses[-1]["id"] if email else None,
            "email_addresses": addresses,
        }
        with self._lock:
            self.users[user_id] = user
        return user

    # --- Faults and counters ---------------------------------------------------------

    def set_delay(self, seconds: float, *, path: str = "/") -> None:
        """Sleep this long before answering requests whose path starts with `path`."""
        with self._lock:
            self._delays[path] = seconds

    def fail(self, status: int = 500, *, path: str = "/") -> None:
        """Answer `status` to requests whose path starts with `path`."""
        with self._lock:
            self._faults[path] = status

    def heal(self) -> None:
        """No more delays or failures."""
        with self._lock:
            self._delays.clear()
            self._faults.clear()

    def count(self, path: str = "/") -> int:
        """Requests received (answered or not) whose path starts with `path`."""
        with self._lock:
            return sum(n for hit, n in self._hits.items() if hit.startswith(path))

    @property
    def jwks_fetches(self) -> int:
        return self.count(JWKS_PATH)

    @property
    def user_fetches(self) -> int:
        return self.count(USERS_PATH)

    def reset_counts(self) -> None:
        with self._lock:
            self._hits.clear()

    # --- Serving ---------------------------------------------------------------------

    def _answer(self, method: str, path: str, authorization: str) -> tuple[int, Any]:
        with self._lock:
            self._hits[path] += 1
            delay = max(
                (s for prefix, s in self._delays.items() if path.startswith(prefix)),
                default=0,
            )
            fault = next(
                (s for prefix, s in self._faults.items() if path.startswith(prefix)),
                None,
            )
        if delay:
            self._stopping.wait(delay)
        if fault is not None:
            return fault, _clerk_error("internal_error", "Injected failure")
        if method != "GET":
            return 405, _clerk_error("method_not_allowed", "Method not allowed")
        if path == JWKS_PATH:
            return 200, self.jwks()
        if path.startswith(USERS_PATH):
            if authorization != f"Bearer {self.secret_key}":
                return 401, _clerk_error("authentication_invalid", "Invalid secret key")
            with self._lock:
                user = self.users.get(unquote(path[len(USERS_PATH) :]))
            if user is None:
                return 404, _clerk_error("resource_not_found", "not found")
            return 200, user
        return 404, _clerk_error("resource_not_found", "not found")


def _clerk_error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "long_message": message}]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    clerk: FakeClerk


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def _respond(self, method: str) -> None:
        path = urlsplit(self.path).path
        status, body = self.server.clerk._answer(
            method, path, self.headers.get("Authorization", "")
        )
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean
