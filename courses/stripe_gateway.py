"""The only module that talks to Stripe: small frozen types in, small frozen types out.

Settings are read when a function runs, so tests and emulators can point
STRIPE_API_BASE elsewhere. Money crosses this boundary as Decimal and becomes
integer cents only here.
"""

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

# Stripe's own default: a signed delivery older than this is refused (replays).
WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE

_CENT = Decimal("0.01")


class PaymentsNotConfigured(Exception):
    """STRIPE_SECRET_KEY (or STRIPE_WEBHOOK_SECRET for webhooks) is not set."""


class PaymentProviderError(Exception):
    """Stripe answered with an error, or could not be reached."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PaymentObjectNotFound(PaymentProviderError):
    """Stripe does not know this object id (its 404)."""


class InvalidWebhook(Exception):
    """A webhook delivery whose signature is missing, wrong or too old."""


class InvalidAmount(ValueError):
    """An amount that cannot be charged exactly in integer cents."""


@dataclass(frozen=True)
class Charge:
    id: str
    payment_intent_id: str | None
    amount: Decimal
    amount_refunded: Decimal
    is_fully_refunded: bool
    currency: str = ""
    receipt_url: str = ""
    is_disputed: bool = False


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str  # open, complete or expired
    payment_status: str  # paid, unpaid or no_payment_required
    payment_intent_id: str | None
    customer_id: str | None
    customer_email: str
    customer_name: str
    client_reference_id: str | None
    amount_total: Decimal | None  # what Stripe charges, in currency units
    currency: str
    success_url: str | None
    cancel_url: str | None
    created: int
    expires_at: int | None  # Unix time after which it can no longer be paid
    is_livemode: bool  # a live-mode object (real money), not a test one
    metadata: Mapping[str, str] = field(default_factory=dict)
    amount_subtotal: Decimal | None = None  # before discounts
    amount_discount: Decimal = Decimal("0.00")  # total_details.amount_discount
    # The promotion code the customer entered: its id, and its text when the
    # session was read with it expanded (else promotion_code_get).
    promotion_code_id: str | None = None
    promotion_code: str = ""
    invoice_id: str | None = None
    hosted_invoice_url: str = ""  # when the invoice was expanded
    charge: Charge | None = None  # when payment_intent.latest_charge was expanded

    @property
    def is_paid(self) -> bool:
        return self.payment_status in ("paid", "no_payment_required")


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    client_secret: str | None
    amount: Decimal
    amount_received: Decimal
    currency: str
    customer_id: str | None
    receipt_email: str
    is_livemode: bool
    metadata: Mapping[str, str] = field(default_factory=dict)
    latest_charge_id: str | None = None
    charge: Charge | None = None  # when latest_charge was expanded

    @property
    def is_succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def is_reusable(self) -> bool:
        """Still waiting for the customer: its client_secret can be handed out again."""
        return self.status in (
            "requires_payment_method",
            "requires_confirmation",
            "requires_action",
        )


@dataclass(frozen=True)
class Refund:
    id: str
    status: str
    payment_intent_id: str | None
    amount: Decimal
    charge_id: str | None = None


@dataclass(frozen=True)
class Dispute:
    id: str
    status: str  # needs_response, under_review, won, lost, warning_*, ...
    charge_id: str | None
    payment_intent_id: str | None
    amount: Decimal
    created: int


@dataclass(frozen=True)
class Customer:
    id: str
    email: str


@dataclass(frozen=True)
class PromotionCode:
    id: str
    code: str


@dataclass(frozen=True)
class Invoice:
    id: str
    hosted_invoice_url: str


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    data_object: Mapping[str, Any]
    payload: Mapping[str, Any]


# --- Money -------------------------------------------------------------------------


def amount_to_cents(amount: Decimal) -> int:
    """Decimal("49.99") -> 4999; refuses negative and sub-cent amounts."""
    if not isinstance(amount, Decimal):
        raise InvalidAmount(f"amount must be a Decimal, not {type(amount).__name__}")
    if not amount.is_finite() or amount < 0:
        raise InvalidAmount(f"cannot charge {amount}")
    if amount.quantize(_CENT) != amount:
        raise InvalidAmount(f"{amount} has a fraction of a cent")
    return int(amount * 100)


def cents_to_amount(cents: int | None) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(_CENT)


# --- Checkout Sessions ----------------------------------------------------------------


def checkout_session_create(
    *,
    amount: Decimal,
    product_name: str,
    product_description: str,
    success_url: str,
    cancel_url: str,
    client_reference_id: str,
    metadata: Mapping[str, str],
    expires_at: int,
    idempotency_key: str,
    customer_id: str | None = None,
    customer_email: str | None = None,
    allow_promotion_codes: bool = False,
    invoice_creation: bool = False,
) -> CheckoutSession:
    """A payment-mode session for one item, payable until `expires_at` (Unix time).

    With `customer_id` the payment is the Customer's; `customer_email` only
    prefills a guest's email (Stripe refuses the two together).
    """
    product_data: dict[str, Any] = {"name": product_name}
    if product_description:
        # Stripe refuses empty descriptions and caps them.
        product_data["description"] = product_description[:500]
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": settings.STRIPE_CURRENCY,
                    "unit_amount": amount_to_cents(amount),
                    "product_data": product_data,
                },
                "quantity": 1,
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "metadata": dict(metadata),
        "expires_at": expires_at,
    }
    if customer_id:
        params["customer"] = customer_id
    elif customer_email:
        params["customer_email"] = customer_email
    if allow_promotion_codes:
        params["allow_promotion_codes"] = True
    if invoice_creation:
        params["invoice_creation"] = {"enabled": True}
    raw = _call(
        lambda client: client.v1.checkout.sessions.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    )
    return checkout_session_from_dict(raw)


# What fulfilment reads with a completed session, in the same request: the
# charge (receipt, refunds, dispute), the promotion code's text, the invoice.
_SESSION_PAYMENT_EXPAND = (
    "payment_intent.latest_charge",
    "discounts.promotion_code",
    "invoice",
)


def checkout_session_get(
    session_id: str, *, with_payment: bool = False
) -> CheckoutSession:
    """A session; `with_payment` also reads its charge, promotion code and invoice."""
    params = {"expand": list(_SESSION_PAYMENT_EXPAND)} if with_payment else None
    raw = _call(
        lambda client: client.v1.checkout.sessions.retrieve(session_id, params=params)
    )
    return checkout_session_from_dict(raw)


def checkout_session_for_payment_intent(
    payment_intent_id: str,
) -> CheckoutSession | None:
    """The Checkout Session that created a PaymentIntent, if any."""
    raw = _call(
        lambda client: client.v1.checkout.sessions.list(
            params={"payment_intent": payment_intent_id, "limit": 1}
        )
    )
    sessions = raw.get("data") or []
    return checkout_session_from_dict(sessions[0]) if sessions else None


def checkout_session_expire(session_id: str) -> CheckoutSession:
    """Close an open session so it can no longer be paid.

    Stripe refuses (PaymentProviderError) a session that is not open any more:
    completed, or already expired.
    """
    raw = _call(lambda client: client.v1.checkout.sessions.expire(session_id))
    return checkout_session_from_dict(raw)


def checkout_session_list_completed(*, created_since: int) -> Iterator[CheckoutSession]:
    """Every completed Checkout Session created at or after a Unix time, all pages."""
    client = _client()
    try:
        page = client.v1.checkout.sessions.list(
            params={
                "created": {"gte": created_since},
                "status": "complete",
                "limit": 100,
                "expand": [f"data.{path}" for path in _SESSION_PAYMENT_EXPAND],
            }
        )
        for raw in page.auto_paging_iter():
            yield checkout_session_from_dict(raw.to_dict())
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc


def checkout_session_from_dict(raw: Mapping[str, Any]) -> CheckoutSession:
    """Our type from a session as Stripe sends it (API answer or event payload)."""
    details = raw.get("customer_details") or {}
    amount_total = raw.get("amount_total")
    amount_subtotal = raw.get("amount_subtotal")
    total_details = raw.get("total_details") or {}
    promotion_code = _session_promotion_code(raw)
    payment_intent = raw.get("payment_intent")
    charge = None
    if isinstance(payment_intent, Mapping):
        latest_charge = payment_intent.get("latest_charge")
        if isinstance(latest_charge, Mapping):
            charge = charge_from_dict(latest_charge)
    invoice = raw.get("invoice")
    return CheckoutSession(
        id=raw["id"],
        url=raw.get("url"),
        status=raw.get("status") or "",
        payment_status=raw.get("payment_status") or "",
        payment_intent_id=_id_of(raw.get("payment_intent")),
        customer_id=_id_of(raw.get("customer")),
        customer_email=details.get("email") or raw.get("customer_email") or "",
        customer_name=details.get("name") or "",
        client_reference_id=raw.get("client_reference_id"),
        amount_total=None if amount_total is None else cents_to_amount(amount_total),
        currency=raw.get("currency") or "",
        success_url=raw.get("success_url"),
        cancel_url=raw.get("cancel_url"),
        created=int(raw.get("created") or 0),
        expires_at=_int_or_none(raw.get("expires_at")),
        is_livemode=raw.get("livemode") is True,
        metadata=_str_dict(raw.get("metadata")),
        amount_subtotal=None
        if amount_subtotal is None
        else cents_to_amount(amount_subtotal),
        amount_discount=cents_to_amount(total_details.get("amount_discount")),
        promotion_code_id=_id_of(promotion_code),
        promotion_code=str(promotion_code.get("code") or "")
        if isinstance(promotion_code, Mapping)
        else "",
        invoice_id=_id_of(invoice),
        hosted_invoice_url=str(invoice.get("hosted_invoice_url") or "")
        if isinstance(invoice, Mapping)
        else "",
        charge=charge,
    )


def _session_promotion_code(raw: Mapping[str, Any]) -> Any:
    """The applied promotion code (an id, or the object when expanded), if any:
    from `discounts`, else from `total_details.breakdown` when it was expanded."""
    for discount in raw.get("discounts") or []:
        if isinstance(discount, Mapping) and discount.get("promotion_code"):
            return discount["promotion_code"]
    total_details = raw.get("total_details") or {}
    for item in (total_details.get("breakdown") or {}).get("discounts") or []:
        discount = item.get("discount") if isinstance(item, Mapping) else None
        if isinstance(discount, Mapping) and discount.get("promotion_code"):
            return discount["promotion_code"]
    return None


def promotion_code_get(promotion_code_id: str) -> PromotionCode:
    raw = _call(lambda client: client.v1.promotion_codes.retrieve(promotion_code_id))
    return PromotionCode(id=raw["id"], code=str(raw.get("code") or ""))


def invoice_get(invoice_id: str) -> Invoice:
    raw = _call(lambda client: client.v1.invoices.retrieve(invoice_id))
    return Invoice(
        id=raw["id"], hosted_invoice_url=str(raw.get("hosted_invoice_url") or "")
    )


# --- Customers ------------------------------------------------------------------------


def customer_create(
    *, email: str, name: str, clerk_user_id: str, idempotency_key: str
) -> Customer:
    """A Customer for a student; the same key returns the same Customer (24 hours)."""
    params: dict[str, Any] = {"metadata": {"clerk_user_id": clerk_user_id}}
    if email:
        params["email"] = email
    if name:
        params["name"] = name
    raw = _call(
        lambda client: client.v1.customers.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    )
    return Customer(id=raw["id"], email=str(raw.get("email") or ""))


def customer_update_email(*, customer_id: str, email: str) -> Customer:
    """Give the Customer this email (repeating it changes nothing)."""
    raw = _call(
        lambda client: client.v1.customers.update(customer_id, params={"email": email})
    )
    return Customer(id=raw["id"], email=str(raw.get("email") or ""))


def customer_delete(customer_id: str) -> None:
    """Delete a Customer at Stripe; its past payments stay. Raises
    PaymentObjectNotFound when Stripe has no such (living) Customer."""
    _call(lambda client: client.v1.customers.delete(customer_id))


# --- PaymentIntents -------------------------------------------------------------------


def payment_intent_create(
    *,
    amount: Decimal,
    description: str,
    receipt_email: str | None,
    metadata: Mapping[str, str],
    idempotency_key: str,
    customer_id: str | None = None,
) -> PaymentIntent:
    params: dict[str, Any] = {
        "amount": amount_to_cents(amount),
        "currency": settings.STRIPE_CURRENCY,
        "automatic_payment_methods": {"enabled": True},
        "description": description[:1000],
        "metadata": dict(metadata),
    }
    if receipt_email:
        params["receipt_email"] = receipt_email
    if customer_id:
        params["customer"] = customer_id
    raw = _call(
        lambda client: client.v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    )
    return payment_intent_from_dict(raw)


def payment_intent_get(
    payment_intent_id: str, *, with_charge: bool = False
) -> PaymentIntent:
    """A PaymentIntent; `with_charge` also reads its latest charge."""
    params = {"expand": ["latest_charge"]} if with_charge else None
    raw = _call(
        lambda client: client.v1.payment_intents.retrieve(
            payment_intent_id, params=params
        )
    )
    return payment_intent_from_dict(raw)


def payment_intent_from_dict(raw: Mapping[str, Any]) -> PaymentIntent:
    latest_charge = raw.get("latest_charge")
    return PaymentIntent(
        id=raw["id"],
        status=raw.get("status") or "",
        client_secret=raw.get("client_secret"),
        amount=cents_to_amount(raw.get("amount")),
        amount_received=cents_to_amount(raw.get("amount_received")),
        currency=raw.get("currency") or "",
        customer_id=_id_of(raw.get("customer")),
        receipt_email=raw.get("receipt_email") or "",
        is_livemode=raw.get("livemode") is True,
        metadata=_str_dict(raw.get("metadata")),
        latest_charge_id=_id_of(latest_charge),
        charge=charge_from_dict(latest_charge)
        if isinstance(latest_charge, Mapping)
        else None,
    )


# --- Refunds and charges --------------------------------------------------------------


def refund_create(*, payment_intent_id: str, idempotency_key: str) -> Refund:
    """Refund what is left of a PaymentIntent's payment (all of it, unless part
    was refunded already)."""
    raw = _call(
        lambda client: client.v1.refunds.create(
            params={"payment_intent": payment_intent_id},
            options={"idempotency_key": idempotency_key},
        )
    )
    return Refund(
        id=raw["id"],
        status=raw.get("status") or "",
        payment_intent_id=_id_of(raw.get("payment_intent")),
        amount=cents_to_amount(raw.get("amount")),
        charge_id=_id_of(raw.get("charge")),
    )


def refund_list_charges(*, created_since: int) -> Iterator[Charge]:
    """The charge of every refund created at or after a Unix time, all pages
    (a charge refunded twice comes twice)."""
    for raw in _list(
        lambda client, params: client.v1.refunds.list(params=params),
        {"created": {"gte": created_since}, "expand": ["data.charge"]},
    ):
        charge = raw.get("charge")
        if isinstance(charge, Mapping):
            yield charge_from_dict(charge)


def charge_from_dict(raw: Mapping[str, Any]) -> Charge:
    amount = cents_to_amount(raw.get("amount"))
    refunded = cents_to_amount(raw.get("amount_refunded"))
    return Charge(
        id=raw["id"],
        payment_intent_id=_id_of(raw.get("payment_intent")),
        amount=amount,
        amount_refunded=refunded,
        is_fully_refunded=bool(raw.get("refunded"))
        or (amount > 0 and refunded >= amount),
        currency=raw.get("currency") or "",
        receipt_url=raw.get("receipt_url") or "",
        is_disputed=raw.get("disputed") is True,
    )


# --- Disputes -------------------------------------------------------------------------


def dispute_get(dispute_id: str) -> Dispute:
    return dispute_from_dict(
        _call(lambda client: client.v1.disputes.retrieve(dispute_id))
    )


def dispute_list(
    *, created_since: int | None = None, charge_id: str | None = None
) -> Iterator[Dispute]:
    """Disputes created at or after a Unix time, or those of one charge; all pages."""
    params: dict[str, Any] = {}
    if created_since is not None:
        params["created"] = {"gte": created_since}
    if charge_id is not None:
        params["charge"] = charge_id
    for raw in _list(
        lambda client, params: client.v1.disputes.list(params=params), params
    ):
        yield dispute_from_dict(raw)


def dispute_from_dict(raw: Mapping[str, Any]) -> Dispute:
    return Dispute(
        id=raw["id"],
        status=raw.get("status") or "",
        charge_id=_id_of(raw.get("charge")),
        payment_intent_id=_id_of(raw.get("payment_intent")),
        amount=cents_to_amount(raw.get("amount")),
        created=int(raw.get("created") or 0),
    )


# --- Webhooks -------------------------------------------------------------------------


def webhook_event_parse(*, payload: bytes, signature: str | None) -> WebhookEvent:
    """Verify a delivery's Stripe-Signature (with Stripe's tolerance) and parse it."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise PaymentsNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, signature, secret, WEBHOOK_TOLERANCE_SECONDS
        )
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError, stripe.SignatureVerificationError) as exc:
        raise InvalidWebhook(str(exc)) from exc
    try:
        return WebhookEvent(
            id=str(body["id"]),
            type=str(body["type"]),
            created=int(body.get("created") or 0),
            data_object=body["data"]["object"],
            payload=body,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidWebhook("not a Stripe event") from exc


# --- Plumbing -------------------------------------------------------------------------


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def is_live_key() -> bool:
    """Whether STRIPE_SECRET_KEY is a live-mode key (secret or restricted)."""
    return settings.STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise PaymentsNotConfigured("STRIPE_SECRET_KEY is not set")
    base_addresses = {}
    if settings.STRIPE_API_BASE:
        base_addresses["api"] = settings.STRIPE_API_BASE.rstrip("/")
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base_addresses,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_HTTP_TIMEOUT_SECONDS),
    )


def _call(request: Callable[[stripe.StripeClient], Any]) -> dict[str, Any]:
    """Run one request; the answer comes back as plain dicts."""
    client = _client()
    try:
        return request(client).to_dict()
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc


def _list(
    request: Callable[[stripe.StripeClient, dict[str, Any]], Any],
    params: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """Every object of a list request, page after page, as plain dicts."""
    client = _client()
    try:
        page = request(client, {**params, "limit": 100})
        for raw in page.auto_paging_iter():
            yield raw.to_dict()
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc


def _provider_error(exc: stripe.StripeError) -> PaymentProviderError:
    # Logged for staff; the client only ever sees a generic message.
    logger.warning(
        "Stripe error %s (status %s, code %s, request %s)",
        type(exc).__name__,
        exc.http_status,
        exc.code,
        exc.request_id,
    )
    if exc.http_status == 404:
        return PaymentObjectNotFound(str(exc.user_message or exc), code=exc.code)
    return PaymentProviderError(str(exc.user_message or exc), code=exc.code)


def _id_of(value: Any) -> str | None:
    """Stripe sends either an id or the expanded object."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return value.get("id")
    return str(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(value or {}).items()}
