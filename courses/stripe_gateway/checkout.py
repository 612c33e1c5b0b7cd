"""Checkout Sessions, with the promotion code and the invoice they name."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from courses.stripe_gateway.base import (
    amount_to_cents,
    call,
    cents_to_amount,
    id_of,
    int_or_none,
    list_all,
    str_dict,
)
from courses.stripe_gateway.payments import Charge, charge_from_dict


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
class PromotionCode:
    id: str
    code: str


@dataclass(frozen=True)
class Invoice:
    id: str
    hosted_invoice_url: str


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
    raw = call(
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
    raw = call(
        lambda client: client.v1.checkout.sessions.retrieve(session_id, params=params)
    )
    return checkout_session_from_dict(raw)


def checkout_session_for_payment_intent(
    payment_intent_id: str,
) -> CheckoutSession | None:
    """The Checkout Session that created a PaymentIntent, if any."""
    raw = call(
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
    raw = call(lambda client: client.v1.checkout.sessions.expire(session_id))
    return checkout_session_from_dict(raw)


def checkout_session_list_completed(*, created_since: int) -> Iterator[CheckoutSession]:
    """Every completed Checkout Session created at or after a Unix time, all pages,
    each with its charge, promotion code and invoice."""
    for raw in list_all(
        lambda client, params: client.v1.checkout.sessions.list(params=params),
        {
            "created": {"gte": created_since},
            "status": "complete",
            "expand": [f"data.{path}" for path in _SESSION_PAYMENT_EXPAND],
        },
    ):
        yield checkout_session_from_dict(raw)


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
        payment_intent_id=id_of(raw.get("payment_intent")),
        customer_id=id_of(raw.get("customer")),
        customer_email=details.get("email") or raw.get("customer_email") or "",
        customer_name=details.get("name") or "",
        client_reference_id=raw.get("client_reference_id"),
        amount_total=None if amount_total is None else cents_to_amount(amount_total),
        currency=raw.get("currency") or "",
        success_url=raw.get("success_url"),
        cancel_url=raw.get("cancel_url"),
        created=int(raw.get("created") or 0),
        expires_at=int_or_none(raw.get("expires_at")),
        is_livemode=raw.get("livemode") is True,
        metadata=str_dict(raw.get("metadata")),
        amount_subtotal=None
        if amount_subtotal is None
        else cents_to_amount(amount_subtotal),
        amount_discount=cents_to_amount(total_details.get("amount_discount")),
        promotion_code_id=id_of(promotion_code),
        promotion_code=str(promotion_code.get("code") or "")
        if isinstance(promotion_code, Mapping)
        else "",
        invoice_id=id_of(invoice),
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
    raw = call(lambda client: client.v1.promotion_codes.retrieve(promotion_code_id))
    return PromotionCode(id=raw["id"], code=str(raw.get("code") or ""))


def invoice_get(invoice_id: str) -> Invoice:
    raw = call(lambda client: client.v1.invoices.retrieve(invoice_id))
    return Invoice(
        id=raw["id"], hosted_invoice_url=str(raw.get("hosted_invoice_url") or "")
    )
