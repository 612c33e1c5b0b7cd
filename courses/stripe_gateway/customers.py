"""Customers: one per student."""

from dataclasses import dataclass
from typing import Any

from courses.stripe_gateway.base import call


@dataclass(frozen=True)
class Customer:
    id: str
    email: str


def customer_create(
    *, email: str, name: str, clerk_user_id: str, idempotency_key: str
) -> Customer:
    """A Customer for a student; the same key returns the same Customer (24 hours)."""
    params: dict[str, Any] = {"metadata": {"clerk_user_id": clerk_user_id}}
    if email:
        params["email"] = email
    if name:
        params["name"] = name
    raw = call(
        lambda client: client.v1.customers.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    )
    return Customer(id=raw["id"], email=str(raw.get("email") or ""))


def customer_update_email(*, customer_id: str, email: str) -> Customer:
    """Give the Customer this email (repeating it changes nothing)."""
    raw = call(
        lambda client: client.v1.customers.update(customer_id, params={"email": email})
    )
    return Customer(id=raw["id"], email=str(raw.get("email") or ""))


def customer_delete(customer_id: str) -> None:
    """Delete a Customer at Stripe; its past payments stay. Raises
    PaymentObjectNotFound when Stripe has no such (living) Customer."""
    call(lambda client: client.v1.customers.delete(customer_id))
