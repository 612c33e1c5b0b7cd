"""A small stateful fake of the Stripe API, served over real HTTP on 127.0.0.1.

The real `stripe` SDK talks to it through STRIPE_API_BASE. It keeps Checkout
Sessions, PaymentIntents, charges (with receipts), refunds (whole or partial),
disputes, Customers, promotion codes and invoices in memory, expands what
`expand[]` names, replays requests that reuse an Idempotency-Key (as Stripe
does, refusing one reused with other parameters), records every request, and
can be told to fail or to stop answering. Sessions expire (`expires_at`,
checked as Stripe does, and `POST /v1/checkout/sessions/{id}/expire`); objects
are in live mode when the key is a live one (`sk_live_`, `rk_live_`).
`stripe_signature()` signs webhook payloads the way Stripe does, for real.
"""

import copy
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
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    promotion_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Creation order of every object, for lists (newest first, as Stripe).
    order: dict[str, int] = field(default_factory=dict)
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

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

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

    def charge_of(self, payment_intent_id: str) -> dict[str, Any]:
        """The latest charge of a PaymentIntent."""
        intent = self._state.payment_intents[payment_intent_id]
        return dict(self._state.charges[intent["latest_charge"]])

    def customer(self, customer_id: str) -> dict[str, Any]:
        return self._state.customers[customer_id]

    def dispute(self, dispute_id: str) -> dict[str, Any]:
        return self._state.disputes[dispute_id]

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        return self._state.invoices[invoice_id]

    @property
    def sessions(self) -> list[dict[str, Any]]:
        return list(self._state.sessions.values())

    @property
    def refunds(self) -> list[dict[str, Any]]:
        return list(self._state.refunds.values())

    @property
    def customers(self) -> list[dict[str, Any]]:
        """Every Customer created, deleted ones included (`deleted: True`)."""
        return list(self._state.customers.values())

    def promotion_code_add(
        self,
        code: str,
        *,
        percent_off: float | None = None,
        amount_off: int | None = None,
    ) -> dict[str, Any]:
        """A promotion code made in the dashboard, for a coupon of either kind."""
        with self._lock:
            coupon = {
                "id": f"co_{secrets.token_hex(6)}",
                "object": "coupon",
                "percent_off": percent_off,
                "amount_off": amount_off,
                "valid": True,
            }
            promotion_code = {
                "id": f"promo_{secrets.token_hex(8)}",
                "object": "promotion_code",
                "code": code,
                "coupon": coupon,
                "active": True,
                "livemode": False,
            }
            self._remember(self._state.promotion_codes, promotion_code)
            return dict(promotion_code)

    def customer_add(self, *, email: str = "", name: str = "") -> dict[str, Any]:
        with self._lock:
            return dict(self._customer_new({"email": email, "name": name}))

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
        promotion_code: str | None = None,
    ) -> dict[str, Any]:
        """The customer paid on Stripe's page: complete, with a succeeded PaymentIntent.

        `payment_status="unpaid"` completes it with a payment still clearing.
        `promotion_code` (an id from promotion_code_add) is the code entered on
        the page: the session's total is discounted, and a total of 0 completes
        with `no_payment_required` and no PaymentIntent, as Stripe does. Only
        an open session can be paid, as on Stripe's page.
        """
        with self._lock:
            session = self._state.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}")
            if promotion_code is not None:
                self._session_discount(session, promotion_code)
            # A session made for a Customer is paid by it; otherwise Checkout
            # makes a guest one.
            customer_id = session["customer"] or f"cus_{secrets.token_hex(7)}"
            if session["amount_total"] == 0:
                payment_status = "no_payment_required"
                payment_intent = None
            else:
                payment_intent = self._payment_intent_new(
                    {
                        "amount": str(session["amount_total"]),
                        "currency": session["currency"],
                        "metadata": {},
                    },
                    livemode=session["livemode"],
                )
                payment_intent["customer"] = customer_id
                if payment_status == "paid":
                    self._payment_intent_succeed(payment_intent)
            session.update(
                status="complete",
                payment_status=payment_status,
                payment_intent=payment_intent["id"] if payment_intent else None,
                customer=customer_id,
                customer_details={"email": customer_email, "name": customer_name},
                url=None,
            )
            if session.get("invoice_creation", {}).get("enabled") == "true":
                session["invoice"] = self._invoice_new(session)["id"]
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

    def refund(
        self, payment_intent_id: str, *, amount: int | None = None
    ) -> dict[str, Any]:
        """A refund made in Stripe's dashboard (of `amount` cents, else of all
        that is left); returns the refunded charge."""
        with self._lock:
            intent = self._state.payment_intents[payment_intent_id]
            self._refund_new(intent, amount=amount)
            return dict(self._state.charges[intent["latest_charge"]])

    def dispute_open(
        self, payment_intent_id: str, *, status: str = "needs_response"
    ) -> dict[str, Any]:
        """The cardholder disputes the payment with their bank; returns the dispute."""
        with self._lock:
            intent = self._state.payment_intents[payment_intent_id]
            charge = self._state.charges[intent["latest_charge"]]
            charge["disputed"] = True
            dispute = {
                "id": f"du_{secrets.token_hex(12)}",
                "object": "dispute",
                "amount": charge["amount"],
                "currency": charge["currency"],
                "charge": charge["id"],
                "payment_intent": intent["id"],
                "reason": "fraudulent",
                "status": status,
                "created": int(time.time()),
                "livemode": charge["livemode"],
            }
            self._remember(self._state.disputes, dispute)
            return dict(dispute)

    def dispute_close(self, dispute_id: str, *, status: str) -> dict[str, Any]:
        """The bank decided: `won` or `lost`; returns the dispute."""
        with self._lock:
            dispute = self._state.disputes[dispute_id]
            dispute["status"] = status
            return dict(dispute)

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
        authorization = handler.headers.get("Authorization") or ""
        if not authorization.startswith(("Bearer sk_", "Bearer rk_")):
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
        status, answer = self._route_object(method, path, params, livemode)
        expand = params.get("expand") or []
        if status == 200 and method == "GET" and expand:
            answer = self._expanded(answer, expand)
        return status, answer

    def _route_object(
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
            return self._payment_intent_create(params, livemode=livemode)
        match = re.fullmatch(r"/v1/payment_intents/([^/]+)", path)
        if match and method == "GET":
            return self._get(self._state.payment_intents, match[1])
        if path == "/v1/refunds":
            if method == "POST":
                return self._refund_create(params)
            return 200, self._list(self._state.refunds, params, "/v1/refunds")
        if path == "/v1/customers" and method == "POST":
            return 200, dict(self._customer_new(params))
        match = re.fullmatch(r"/v1/customers/([^/]+)", path)
        if match:
            return self._customer_request(method, match[1], params)
        if path == "/v1/disputes" and method == "GET":
            return 200, self._list(self._state.disputes, params, "/v1/disputes")
        for prefix, objects in (
            ("/v1/disputes/", self._state.disputes),
            ("/v1/charges/", self._state.charges),
            ("/v1/promotion_codes/", self._state.promotion_codes),
            ("/v1/invoices/", self._state.invoices),
        ):
            match = re.fullmatch(re.escape(prefix) + r"([^/]+)", path)
            if match and method == "GET":
                return self._get(objects, match[1])
        return 404, _error("invalid_request_error", f"Unrecognized request URL {path}")

    # --- Expansion and lists ----------------------------------------------------------

    def _expanded(self, answer: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        """`answer` with the ids at each dotted path replaced by their objects."""
        answer = copy.deepcopy(answer)
        for path in paths:
            self._expand_path(answer, path.split("."))
        return answer

    def _expand_path(self, node: Any, parts: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand_path(item, parts)
            return
        if not isinstance(node, dict) or not parts:
            return
        key, rest = parts[0], parts[1:]
        value = node.get(key)
        if isinstance(value, str):
            found = self._object_by_id(value)
            if found is not None:
                value = node[key] = copy.deepcopy(found)
        if rest and value is not None:
            self._expand_path(value, rest)

    def _object_by_id(self, object_id: str) -> dict[str, Any] | None:
        kinds = {
            "pi_": self._state.payment_intents,
            "ch_": self._state.charges,
            "promo_": self._state.promotion_codes,
            "in_": self._state.invoices,
            "cus_": self._state.customers,
            "du_": self._state.disputes,
        }
        for prefix, objects in kinds.items():
            if object_id.startswith(prefix):
                return objects.get(object_id)
        return None

    def _remember(
        self, objects: dict[str, dict[str, Any]], created: dict[str, Any]
    ) -> None:
        objects[created["id"]] = created
        self._state.order[created["id"]] = next(self._sequence)

    def _list(
        self, objects: dict[str, dict[str, Any]], params: dict[str, Any], url: str
    ) -> dict[str, Any]:
        """Newest first, with `created[gte]`, `charge`, `starting_after`, `limit`."""
        rows = sorted(
            objects.values(),
            key=lambda o: (o.get("created", 0), self._state.order.get(o["id"], 0)),
            reverse=True,
        )
        created = params.get("created") or {}
        if "gte" in created:
            rows = [o for o in rows if o.get("created", 0) >= int(created["gte"])]
        if params.get("charge"):
            rows = [o for o in rows if o.get("charge") == params["charge"]]
        if params.get("starting_after"):
            ids = [o["id"] for o in rows]
            rows = rows[ids.index(params["starting_after"]) + 1 :]
        limit = min(int(params.get("limit", 10)), self.max_page_size)
        return {
            "object": "list",
            "url": url,
            "has_more": len(rows) > limit,
            "data": [dict(o) for o in rows[:limit]],
        }

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
        if params.get("customer") and params.get("customer_email"):
            return 400, _error(
                "invalid_request_error",
                "You may only specify one of these parameters: customer, "
                "customer_email.",
            )
        missing = self._missing_customer(params)
        if missing is not None:
            return missing
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
            "total_details": {
                "amount_discount": 0,
                "amount_shipping": 0,
                "amount_tax": 0,
            },
            "discounts": [],
            "allow_promotion_codes": params.get("allow_promotion_codes") == "true",
            "invoice_creation": dict(params.get("invoice_creation") or {}),
            "invoice": None,
            "currency": currency,
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
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
        if params.get("payment_intent"):
            sessions = [
                s for s in sessions if s["payment_intent"] == params["payment_intent"]
            ]
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

    def _payment_intent_create(
        self, params: dict[str, Any], *, livemode: bool
    ) -> tuple[int, dict[str, Any]]:
        missing = self._missing_customer(params)
        if missing is not None:
            return missing
        return 200, dict(self._payment_intent_new(params, livemode=livemode))

    def _missing_customer(
        self, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | None:
        customer_id = params.get("customer")
        customer = self._state.customers.get(customer_id) if customer_id else None
        if customer_id and (customer is None or customer.get("deleted")):
            return 400, _error(
                "invalid_request_error",
                f"No such customer: '{customer_id}'",
                code="resource_missing",
            )
        return None

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
            "customer": params.get("customer"),
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
            "disputed": False,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "customer": intent["customer"],
            "paid": True,
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
            "created": int(time.time()),
            "livemode": intent["livemode"],
        }
        self._state.order[charge_id] = next(self._sequence)
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=charge_id,
        )

    def _refund_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        # Stripe refunds the rest of the charge unless told an amount.
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
        amount = int(params["amount"]) if params.get("amount") else None
        return 200, dict(self._refund_new(intent, amount=amount))

    def _refund_new(
        self, intent: dict[str, Any], *, amount: int | None = None
    ) -> dict[str, Any]:
        charge = self._state.charges[intent["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        amount = left if amount is None else min(amount, left)
        refunded = charge["amount_refunded"] + amount
        charge.update(refunded=refunded >= charge["amount"], amount_refunded=refunded)
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
            "created": int(time.time()),
        }
        self._remember(self._state.refunds, refund)
        return refund

    def _session_discount(self, session: dict[str, Any], promotion_code: str) -> None:
        if not session.get("allow_promotion_codes"):
            raise ValueError("this session does not accept promotion codes")
        promotion = self._state.promotion_codes[promotion_code]
        coupon = promotion["coupon"]
        subtotal = session["amount_subtotal"]
        if coupon["percent_off"] is not None:
            discount = round(subtotal * coupon["percent_off"] / 100)
        else:
            discount = min(int(coupon["amount_off"] or 0), subtotal)
        session.update(
            amount_total=subtotal - discount,
            total_details={**session["total_details"], "amount_discount": discount},
            discounts=[{"coupon": coupon["id"], "promotion_code": promotion["id"]}],
        )

    def _invoice_new(self, session: dict[str, Any]) -> dict[str, Any]:
        invoice_id = f"in_{secrets.token_hex(12)}"
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "status": "paid",
            "amount_paid": session["amount_total"],
            "currency": session["currency"],
            "customer": session["customer"],
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
            "created": int(time.time()),
        }
        self._remember(self._state.invoices, invoice)
        return invoice

    def _customer_new(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": f"cus_{secrets.token_hex(7)}",
            "object": "customer",
            "email": params.get("email") or None,
            "name": params.get("name") or None,
            "metadata": dict(params.get("metadata") or {}),
            "created": int(time.time()),
        }
        self._remember(self._state.customers, customer)
        return customer

    def _customer_request(
        self, method: str, customer_id: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        customer = self._state.customers.get(customer_id)
        if customer is None or (customer.get("deleted") and method != "GET"):
            return 404, _error(
                "invalid_request_error",
                f"No such customer: '{customer_id}'",
                code="resource_missing",
            )
        if method == "DELETE":
            # Stripe keeps only a stub of a deleted Customer.
            customer.clear()
            customer.update(id=customer_id, object="customer", deleted=True)
        elif method == "POST":
            customer.update(
                {key: value for key, value in params.items() if key != "metadata"}
            )
        return 200, dict(customer)


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
