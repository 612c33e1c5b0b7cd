"""A small stateful fake of the Stripe API, served over real HTTP on 127.0.0.1.

The real `stripe` SDK talks to it through STRIPE_API_BASE. It keeps Checkout
Sessions, PaymentIntents, charges and refunds in memory, replays requests that
reuse an Idempotency-Key (as Stripe does, refusing one reused with other
parameters), records every request, and can be told to fail or to stop
answering. Sessions expire (`expires_at`, checked as Stripe does, and
`POST /v1/checkout/sessions/{id}/expire`); objects are in live mode when the
key is a live one (`sk_live_`, `rk_live_`). `stripe_signature()` signs webhook
payloads the way Stripe does, for real.
"""

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def stripe_signature(
    payload: bytes, secret: str, *, timestamp: int | None = None
) -> str:
    """The Stripe-Signature header Stripe would send for this payload."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# Stripe's bounds for a session's expires_at, from the time it is created.
SESSION_EXPIRES_MIN_SECONDS = 30 * 60
SESSION_EXPIRES_MAX_SECONDS = 24 * 3600


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    authorization: str | None


@dataclass(frozen=True)
class WebhookDelivery:
    """A signed delivery: POST `payload` with header Stripe-Signature: `signature`."""

    event: dict[str, Any]
    payload: bytes
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        """Keyword arguments for Django's test client."""
        return {
            "content_type": "application/json",
            "HTTP_STRIPE_SIGNATURE": self.signature,
        }


@dataclass
class _Failure:
    status: int
    remaining: int | None  # None: until recover()


@dataclass
class _State:
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    session_order: dict[str, int] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, dict[str, Any], int, dict[str, Any]]] = field(
        default_factory=dict
    )


class FakeStripe:
    """Start with `start()` (or use the `fake_stripe` fixture); see `base_url`."""

    def __init__(self, *, webhook_secret: str = "whsec_test_fake_secret") -> None:  # noqa: S107
        self.webhook_secret = webhook_secret
        self.requests: list[RecordedRequest] = []
        self.max_page_size = 100
        self._state = _State()
        self._lock = threading.RLock()
        self._failure: _Failure | None = None
        self._sequence = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- Server lifecycle ------------------------------------------------------------

    def start(self) -> "FakeStripe":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: the port is closed, calls fail with a connection error."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def fail_with(self, status: int = 500, *, times: int | None = None) -> None:
        """Answer every request (or the next `times` ones) with this error status."""
        self._failure = _Failure(status=status, remaining=times)

    def recover(self) -> None:
        self._failure = None

    # --- What was asked ---------------------------------------------------------------

    @property
    def creating_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def requests_to(
        self, path: str, method: str | None = None
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path == path and (method is None or r.method == method)
        ]

    # --- Objects, as a test arranges them ---------------------------------------------

    def session(self, session_id: str) -> dict[str, Any]:
        return self._state.sessions[session_id]

    def payment_intent(self, payment_intent_id: str) -> dict[str, Any]:
        return self._state.payment_intents[payment_intent_id]

    def charge(self, charge_id: str) -> dict[str, Any]:
        return self._state.charges[charge_id]

    @property
    def sessions(self) -> list[dict[str, Any]]:
        return list(self._state.sessions.values())

    @property
    def refunds(self) -> list[dict[str, Any]]:
        return list(self._state.refunds.values())

    def checkout_session_add(
        self,
        *,
        amount: int,
        metadata: dict[str, str],
        currency: str = "cad",
        customer_email: str | None = None,
        client_reference_id: str | None = None,
        created: int | None = None,
        livemode: bool = False,
    ) -> dict[str, Any]:
        """A session created outside our code (e.g. before the pending row existed)."""
        with self._lock:
            return self._session_new(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "price_data": {
                                "currency": currency,
                                "unit_amount": str(amount),
                            },
                            "quantity": "1",
                        }
                    ],
                    "metadata": metadata,
                    "customer_email": customer_email,
                    "client_reference_id": client_reference_id,
                    "success_url": "http://localhost:3000/success",
                    "cancel_url": "http://localhost:3000/cancel",
                },
                created=created,
                livemode=livemode,
            )

    def session_pay(
        self,
        session_id: str,
        *,
        customer_email: str = "buyer@example.com",
        customer_name: str = "Ada Lovelace",
        payment_status: str = "paid",
    ) -> dict[str, Any]:
        """The customer paid on Stripe's page: complete, with a succeeded PaymentIntent.

        `payment_status="unpaid"` completes it with a payment still clearing.
        Only an open session can be paid, as on Stripe's page.
        """
        with self._lock:
            session = self._state.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}")
            payment_intent = self._payment_intent_new(
                {
                    "amount": str(session["amount_total"]),
                    "currency": session["currency"],
                    "metadata": {},
                },
                livemode=session["livemode"],
            )
            customer_id = f"cus_{secrets.token_hex(7)}"
            payment_intent["customer"] = customer_id
            if payment_status == "paid":
                self._payment_intent_succeed(payment_intent)
            session.update(
                status="complete",
                payment_status=payment_status,
                payment_intent=payment_intent["id"],
                customer=customer_id,
                customer_details={"email": customer_email, "name": customer_name},
                url=None,
            )
            return dict(session)

    def session_async_payment_succeed(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self._state.sessions[session_id]
            intent = self._state.payment_intents[session["payment_intent"]]
            self._payment_intent_succeed(intent)
            session["payment_status"] = "paid"
            return dict(session)

    def session_expire(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self._state.sessions[session_id]
            session.update(status="expired", url=None)
            return dict(session)

    def session_update(self, session_id: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._state.sessions[session_id].update(fields)
            return dict(self._state.sessions[session_id])

    def payment_intent_succeed(self, payment_intent_id: str) -> dict[str, Any]:
        with self._lock:
            intent = self._state.payment_intents[payment_intent_id]
            self._payment_intent_succeed(intent)
            return dict(intent)

    def payment_intent_fail(self, payment_intent_id: str) -> dict[str, Any]:
        with self._lock:
            intent = self._state.payment_intents[payment_intent_id]
            intent.update(
                status="requires_payment_method",
                last_payment_error={"code": "card_declined"},
            )
            return dict(intent)

    def refund(self, payment_intent_id: str) -> dict[str, Any]:
        """A full refund made in Stripe's dashboard; returns the refunded charge."""
        with self._lock:
            intent = self._state.payment_intents[payment_intent_id]
            self._refund_new(intent)
            return dict(self._state.charges[intent["latest_charge"]])

    # --- Webhook deliveries -----------------------------------------------------------

    def event(
        self,
        event_type: str,
        data_object: dict[str, Any],
        *,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-01-01",
            "created": int(time.time()),
            "livemode": bool(data_object.get("livemode", False)),
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": dict(data_object)},
        }

    def webhook_delivery(
        self,
        event_type: str,
        data_object: dict[str, Any],
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> WebhookDelivery:
        """A signed delivery of a new event (same `event_id` = a repeat of it)."""
        event = self.event(event_type, data_object, event_id=event_id)
        payload = json.dumps(event).encode()
        signature = stripe_signature(
            payload, secret or self.webhook_secret, timestamp=timestamp
        )
        return WebhookDelivery(event=event, payload=payload, signature=signature)

    # --- HTTP -------------------------------------------------------------------------

    @staticmethod
    def _is_live(handler: BaseHTTPRequestHandler) -> bool:
        authorization = handler.headers.get("Authorization") or ""
        return authorization.startswith(("Bearer sk_live_", "Bearer rk_live_"))

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        params = _nested(parse_qsl(body if method == "POST" else url.query))
        key = handler.headers.get("Idempotency-Key")
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=url.path,
                    params=params,
                    idempotency_key=key,
                    authorization=handler.headers.get("Authorization"),
                )
            )
            status, answer = self._answer(method, url.path, params, key, handler)
        raw = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.send_header("Request-Id", f"req_{next(self._sequence)}")
        handler.end_headers()
        handler.wfile.write(raw)

    def _answer(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        handler: BaseHTTPRequestHandler,
    ) -> tuple[int, dict[str, Any]]:
        if self._failure is not None:
            failure = self._failure
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failure = None
            return failure.status, _error("api_error", "Fake Stripe failure")
        if not (handler.headers.get("Authorization") or "").startswith("Bearer sk_"):
            return 401, _error("invalid_request_error", "Invalid API Key provided")
        if method == "POST" and key:
            replay = self._state.idempotent.get(key)
            if replay is not None:
                if replay[0] != path or replay[1] != params:
                    return 400, _error(
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the "
                        "same parameters they were first used with.",
                    )
                return replay[2], replay[3]
        status, answer = self._route(method, path, params, self._is_live(handler))
        if method == "POST" and key:
            self._state.idempotent[key] = (path, params, status, answer)
        return status, answer

    def _route(
        self, method: str, path: str, params: dict[str, Any], livemode: bool
    ) -> tuple[int, dict[str, Any]]:
        if path == "/v1/checkout/sessions":
            if method == "POST":
                return self._session_create(params, livemode=livemode)
            return 200, self._session_list(params)
        match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)", path)
        if match and method == "GET":
            return self._get(self._state.sessions, match[1])
        match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", path)
        if match and method == "POST":
            return self._session_expire_request(match[1])
        if path == "/v1/payment_intents" and method == "POST":
            return 200, dict(self._payment_intent_new(params, livemode=livemode))
        match = re.fullmatch(r"/v1/payment_intents/([^/]+)", path)
        if match and method == "GET":
            return self._get(self._state.payment_intents, match[1])
        if path == "/v1/refunds" and method == "POST":
            return self._refund_create(params)
        return 404, _error("invalid_request_error", f"Unrecognized request URL {path}")

    @staticmethod
    def _get(
        objects: dict[str, dict[str, Any]], object_id: str
    ) -> tuple[int, dict[str, Any]]:
        if object_id not in objects:
            return 404, _error(
                "invalid_request_error",
                f"No such object: '{object_id}'",
                code="resource_missing",
            )
        return 200, dict(objects[object_id])

    def _session_create(
        self, params: dict[str, Any], *, livemode: bool
    ) -> tuple[int, dict[str, Any]]:
        if "expires_at" in params:
            ahead = int(params["expires_at"]) - int(time.time())
            if not SESSION_EXPIRES_MIN_SECONDS <= ahead <= SESSION_EXPIRES_MAX_SECONDS:
                return 400, _error(
                    "invalid_request_error",
                    "The `expires_at` timestamp must be between 30 minutes and "
                    "24 hours from Checkout Session creation.",
                    code="parameter_invalid_integer",
                )
        return 200, dict(self._session_new(params, livemode=livemode))

    def _session_expire_request(self, session_id: str) -> tuple[int, dict[str, Any]]:
        session = self._state.sessions.get(session_id)
        if session is None:
            return self._get(self._state.sessions, session_id)
        if session["status"] != "open":
            return 400, _error(
                "invalid_request_error",
                'Only Checkout Sessions with a status in ["open"] can be expired.',
                code="checkout_session_expire_not_open",
            )
        session.update(status="expired", url=None)
        return 200, dict(session)

    def _session_new(
        self,
        params: dict[str, Any],
        *,
        created: int | None = None,
        livemode: bool = False,
    ) -> dict[str, Any]:
        line_items = params.get("line_items") or []
        amount_total = sum(
            int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
            for item in line_items
        )
        currency = line_items[0]["price_data"]["currency"] if line_items else "cad"
        session_id = f"cs_test_{secrets.token_hex(12)}"
        now = int(time.time()) if created is None else created
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode", "payment"),
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount_total,
            "amount_subtotal": amount_total,
            "currency": currency,
            "client_reference_id": params.get("client_reference_id"),
            "customer": None,
            "customer_email": params.get("customer_email"),
            "customer_details": None,
            "metadata": dict(params.get("metadata") or {}),
            "payment_intent": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "url": f"{self.base_url}/pay/{session_id}",
            "created": now,
            "expires_at": int(params.get("expires_at") or now + 24 * 3600),
            "livemode": livemode,
        }
        self._state.sessions[session_id] = session
        self._state.session_order[session_id] = next(self._sequence)
        return session

    def _session_list(self, params: dict[str, Any]) -> dict[str, Any]:
        created = params.get("created") or {}
        sessions = sorted(
            self._state.sessions.values(),
            key=lambda s: (s["created"], self._state.session_order[s["id"]]),
            reverse=True,
        )
        if "gte" in created:
            sessions = [s for s in sessions if s["created"] >= int(created["gte"])]
        if params.get("status"):
            sessions = [s for s in sessions if s["status"] == params["status"]]
        if params.get("starting_after"):
            ids = [s["id"] for s in sessions]
            sessions = sessions[ids.index(params["starting_after"]) + 1 :]
        limit = min(int(params.get("limit", 10)), self.max_page_size)
        return {
            "object": "list",
            "url": "/v1/checkout/sessions",
            "has_more": len(sessions) > limit,
            "data": [dict(s) for s in sessions[:limit]],
        }

    def _payment_intent_new(
        self, params: dict[str, Any], *, livemode: bool = False
    ) -> dict[str, Any]:
        intent_id = f"pi_{secrets.token_hex(12)}"
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0,
            "currency": params.get("currency", "cad"),
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "customer": None,
            "description": params.get("description"),
            "receipt_email": params.get("receipt_email"),
            "metadata": dict(params.get("metadata") or {}),
            "latest_charge": None,
            "created": int(time.time()),
            "livemode": livemode,
        }
        self._state.payment_intents[intent_id] = intent
        return intent

    def _payment_intent_succeed(self, intent: dict[str, Any]) -> None:
        charge_id = f"ch_{secrets.token_hex(12)}"
        self._state.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": 0,
            "refunded": False,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "customer": intent["customer"],
            "paid": True,
            "livemode": intent["livemode"],
        }
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=charge_id,
        )

    def _refund_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self._state.payment_intents.get(params.get("payment_intent", ""))
        if intent is None:
            return 404, _error(
                "invalid_request_error",
                "No such payment_intent",
                code="resource_missing",
            )
        if intent["status"] != "succeeded":
            return 400, _error(
                "invalid_request_error",
                "This PaymentIntent does not have a successful charge to refund.",
                code="charge_not_refundable",
            )
        if self._state.charges[intent["latest_charge"]]["refunded"]:
            return 400, _error(
                "invalid_request_error",
                "Charge has already been refunded.",
                code="charge_already_refunded",
            )
        return 200, dict(self._refund_new(intent))

    def _refund_new(self, intent: dict[str, Any]) -> dict[str, Any]:
        charge = self._state.charges[intent["latest_charge"]]
        charge.update(refunded=True, amount_refunded=charge["amount"])
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": charge["amount"],
            "charge": charge["id"],
            "currency": charge["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
        }
        self._state.refunds[refund["id"]] = refund
        return refund


def _error(kind: str, message: str, *, code: str | None = None) -> dict[str, Any]:
    error = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (a[b][0][c]=v) back into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted
