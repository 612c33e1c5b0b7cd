"""A fake Clerk instance on 127.0.0.1: its JWKS, its Backend API's users (look-up,
list, count), real RS256 session tokens signed with PyJWT, and user webhook
deliveries signed as Svix signs them.

Usable from tests (the `fake_clerk` fixture), benchmarks and fuzzers::

    with FakeClerk() as clerk:
        os.environ.update(clerk.env())           # or the pytest `settings` fixture
        clerk.add_user("user_1", email="ada@example.com", first_name="Ada")
        token = clerk.issue_token(sub="user_1")  # Clerk's default claims, no email
        requests.get(url, headers={"Authorization": f"Bearer {token}"})
        assert clerk.jwks_fetches <= 1
        delivery = clerk.user_event("user.updated", "user_1")
        requests.post(webhook_url, data=delivery.payload, headers=delivery.headers)
"""

import base64
import copy
import datetime
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWKS_PATH = "/.well-known/jwks.json"
USERS_PATH = "/v1/users/"
USER_LIST_PATH = "/v1/users"
USER_COUNT_PATH = "/v1/users/count"
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


def svix_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Svix's documented scheme, by hand: `v1,` and the base64 HMAC-SHA256 of
    `{svix-id}.{svix-timestamp}.{body}`, keyed with the base64-decoded part of
    the `whsec_` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class ClerkDelivery:
    """A webhook delivery as Svix sends it: raw body and headers."""

    message_id: str
    payload: bytes
    headers: dict[str, str]
    event: dict[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


class FakeClerk:
    """Serves a JWKS and `GET /v1/users/{id}`, `/v1/users?limit=&offset=` and
    `/v1/users/count`; signs session tokens and webhook deliveries.

    `url` is the base URL; `jwks_url`, `api_url` (ends in /v1), `issuer`,
    `secret_key`, `authorized_party` and `webhook_secret` are what the
    settings point at. Every request is counted by path (`count()`,
    `jwks_fetches`, `user_fetches`, `user_list_fetches`). Faults:
    `set_delay()`, `fail()`, `heal()`, `stop()`, `restart()` (same port).
    """

    def __init__(
        self,
        *,
        secret_key: str = "sk_test_fake_clerk",  # noqa: S107
        authorized_party: str = DEFAULT_AUTHORIZED_PARTY,
    ) -> None:
        self.secret_key = secret_key
        self.authorized_party = authorized_party
        # What Clerk's dashboard shows for a webhook endpoint: whsec_ and base64.
        self.webhook_secret = (
            "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        )
        self.port = 0
        self.users: dict[str, dict[str, Any]] = {}
        self._private_keys: dict[str, rsa.RSAPrivateKey] = {}
        self._published: list[str] = []
        self.kid = ""
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._created = 0
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
            "CLERK_WEBHOOK_SIGNING_SECRET": self.webhook_secret,
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
        image_url: str = "",
        updated_at: int | None = None,
    ) -> dict[str, Any]:
        """A user as Clerk's Backend API returns it; `email` is the primary one
        (listed after `other_emails`), None for a user with no email.
        `updated_at` in milliseconds, now by default; the newest user is
        listed first."""
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
        now_ms = _now_ms()
        user = {
            "id": user_id,
            "object": "user",
            "first_name": first_name,
            "last_name": last_name,
            "image_url": image_url,
            "primary_email_address_id": addresses[-1]["id"] if email else None,
            "email_addresses": addresses,
            "created_at": now_ms,
            "updated_at": updated_at if updated_at is not None else now_ms,
        }
        with self._lock:
            self._created += 1
            user["_order"] = self._created
            self.users[user_id] = user
        return self._public(user)

    def update_user(self, user_id: str, **changes: Any) -> dict[str, Any]:
        """Change a user's `first_name`, `last_name`, `image_url` or primary
        `email`; `updated_at` moves on by at least a millisecond."""
        with self._lock:
            user = self.users[user_id]
            email = changes.pop("email", None)
            if email is not None:
                address = {
                    "id": f"idn_{len(user['email_addresses'])}",
                    "object": "email_address",
                    "email_address": email,
                    "verification": {"status": "verified"},
                }
                user["email_addresses"].append(address)
                user["primary_email_address_id"] = address["id"]
            user.update(changes)
            user["updated_at"] = max(_now_ms(), user["updated_at"] + 1)
            return self._public(user)

    def delete_user(self, user_id: str) -> None:
        with self._lock:
            self.users.pop(user_id, None)

    @staticmethod
    def _public(user: dict[str, Any]) -> dict[str, Any]:
        return {
            name: copy.deepcopy(value)
            for name, value in user.items()
            if not name.startswith("_")
        }

    def _listed(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            limit = int(query.get("limit", ["10"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return 422, _clerk_error("form_param_format_invalid", "bad limit")
        if not 1 <= limit <= 500 or offset < 0:
            return 422, _clerk_error("form_param_value_invalid", "bad limit")
        with self._lock:
            # Clerk's default order: newest first.
            users = sorted(self.users.values(), key=lambda u: -u["_order"])
            page = [self._public(u) for u in users[offset : offset + limit]]
        return 200, page

    # --- Webhooks (signed as Svix signs them) -----------------------------------------

    def webhook_delivery(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        message_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> ClerkDelivery:
        """A delivery of Clerk's envelope `{data, object, type, timestamp,
        instance_id}`, signed with the svix library (the secret of this fake,
        or `secret`) at `timestamp` (seconds, default now)."""
        from svix.webhooks import Webhook

        message_id = message_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(time.time()) if timestamp is None else timestamp
        event = {
            "data": data,
            "object": "event",
            "type": event_type,
            "timestamp": timestamp * 1000,
            "instance_id": "ins_fake",
        }
        payload = json.dumps(event).encode()
        signature = Webhook(secret or self.webhook_secret).sign(
            message_id,
            datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC),
            payload.decode(),
        )
        headers = {
            "Content-Type": "application/json",
            "svix-id": message_id,
            "svix-timestamp": str(timestamp),
            "svix-signature": signature,
        }
        return ClerkDelivery(message_id, payload, headers, event)

    def user_event(self, event_type: str, user_id: str, **kwargs: Any) -> ClerkDelivery:
        """`user.created`/`user.updated` with the user as stored now, or
        `user.deleted` with only `{id, deleted, object}`, as Clerk sends it."""
        if event_type == "user.deleted":
            data = {"id": user_id, "deleted": True, "object": "user"}
        else:
            with self._lock:
                data = self._public(self.users[user_id])
        return self.webhook_delivery(event_type, data, **kwargs)

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
        """Look-ups of one user (`GET /v1/users/{id}`)."""
        return self.count(USERS_PATH) - self.count(USER_COUNT_PATH)

    @property
    def user_list_fetches(self) -> int:
        with self._lock:
            return self._hits[USER_LIST_PATH]

    def reset_counts(self) -> None:
        with self._lock:
            self._hits.clear()

    # --- Serving ---------------------------------------------------------------------

    def _answer(
        self, method: str, path: str, authorization: str, query: str = ""
    ) -> tuple[int, Any]:
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
        if path == USER_LIST_PATH or path.startswith(USERS_PATH):
            if authorization != f"Bearer {self.secret_key}":
                return 401, _clerk_error("authentication_invalid", "Invalid secret key")
            if path == USER_LIST_PATH:
                return self._listed(parse_qs(query))
            if path == USER_COUNT_PATH:
                with self._lock:
                    total = len(self.users)
                return 200, {"object": "total_count", "total_count": total}
            with self._lock:
                user = self.users.get(unquote(path[len(USERS_PATH) :]))
            if user is None:
                return 404, _clerk_error("resource_not_found", "not found")
            return 200, self._public(user)
        return 404, _clerk_error("resource_not_found", "not found")


def _now_ms() -> int:
    return int(time.time() * 1000)


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
        url = urlsplit(self.path)
        status, body = self.server.clerk._answer(
            method, url.path, self.headers.get("Authorization", ""), url.query
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
