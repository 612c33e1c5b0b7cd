"""PaymentIntents, their charges, refunds and disputes."""

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
    list_all,
    str_dict,
)


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
    raw = call(
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
    raw = call(
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
        customer_id=id_of(raw.get("customer")),
        receipt_email=raw.get("receipt_email") or "",
        is_livemode=raw.get("livemode") is True,
        metadata=str_dict(raw.get("metadata")),
        latest_charge_id=id_of(latest_charge),
        charge=charge_from_dict(latest_charge)
        if isinstance(latest_charge, Mapping)
        else None,
    )


def refund_create(*, payment_intent_id: str, idempotency_key: str) -> Refund:
    """Refund what is left of a PaymentIntent's payment (all of it, unless part
    was refunded already)."""
    raw = call(
        lambda client: client.v1.refunds.create(
            params={"payment_intent": payment_intent_id},
            options={"idempotency_key": idempotency_key},
        )
    )
    return Refund(
        id=raw["id"],
        status=raw.get("status") or "",
        payment_intent_id=id_of(raw.get("payment_intent")),
        amount=cents_to_amount(raw.get("amount")),
        charge_id=id_of(raw.get("charge")),
    )


def refund_list_charges(*, created_since: int) -> Iterator[Charge]:
    """The charge of every refund created at or after a Unix time, all pages
    (a charge refunded twice comes twice)."""
    for raw in list_all(
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
        payment_intent_id=id_of(raw.get("payment_intent")),
        amount=amount,
        amount_refunded=refunded,
        is_fully_refunded=bool(raw.get("refunded"))
        or (amount > 0 and refunded >= amount),
        currency=raw.get("currency") or "",
        receipt_url=raw.get("receipt_url") or "",
        is_disputed=raw.get("disputed") is True,
    )


def dispute_get(dispute_id: str) -> Dispute:
    return dispute_from_dict(
        call(lambda client: client.v1.disputes.retrieve(dispute_id))
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
    for raw in list_all(
        lambda client, params: client.v1.disputes.list(params=params), params
    ):
        yield dispute_from_dict(raw)


def dispute_from_dict(raw: Mapping[str, Any]) -> Dispute:
    return Dispute(
        id=raw["id"],
        status=raw.get("status") or "",
        charge_id=id_of(raw.get("charge")),
        payment_intent_id=id_of(raw.get("payment_intent")),
        amount=cents_to_amount(raw.get("amount")),
        created=int(raw.get("created") or 0),
    )
