"""Local stand-ins for Clerk and Stripe while the benchmark runs (127.0.0.1 only)."""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ID = "bench-key"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FakeClerk:
    """Serves a JWKS and the Backend API's user look-up; mints RS256 session tokens."""

    def __init__(self, *, authorized_party: str) -> None:
        self.private_key = rsa.generate_private_key(
            public_exponent=65537, key_size=2048
        )
        self.authorized_party = authorized_party
        numbers = self.private_key.public_key().public_numbers()
        self.jwks = {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": KEY_ID,
                    "use": "sig",
                    "alg": "RS256",
                    "n": _b64url_uint(numbers.n),
                    "e": _b64url_uint(numbers.e),
                }
            ]
        }
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    def start(self) -> "FakeClerk":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, user_id: str, *, lifetime: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "sub": user_id,
            "iss": self.url,
            "azp": self.authorized_party,
            "sid": f"sess_{user_id}",
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
        }
        return jwt.encode(
            claims, self.private_key, algorithm="RS256", headers={"kid": KEY_ID}
        )

    def _handler(self):
        clerk = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                clerk.requests += 1
                if self.path.endswith("/jwks.json") or self.path.endswith("/jwks"):
                    self._json(200, clerk.jwks)
                elif self.path.startswith("/v1/users/"):
                    user_id = self.path.rsplit("/", 1)[-1]
                    self._json(200, _clerk_user(user_id))
                else:
                    self._json(404, {"errors": [{"code": "resource_not_found"}]})

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        return Handler


def _clerk_user(user_id: str) -> dict:
    email_id = f"idn_{user_id}"
    return {
        "id": user_id,
        "object": "user",
        "first_name": "Bench",
        "last_name": "Student",
        "primary_email_address_id": email_id,
        "email_addresses": [
            {"id": email_id, "email_address": f"{user_id}@example.com"}
        ],
    }


def stripe_signature(
    payload: bytes, secret: str, *, timestamp: int | None = None
) -> str:
    """The Stripe-Signature header Stripe sends with a webhook delivery."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
