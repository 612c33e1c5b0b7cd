"""Orders, written beside their enrollment: one per Checkout Session or PaymentIntent.

Every write to an order happens with its enrollment's row locked (the callers
lock it, inside their transaction): the enrollment's lock covers its orders,
so an order never needs a lock of its own and the two always agree. Stripe
is never called from here.
"""

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from courses import stripe_gateway
from courses.models import Enrollment, Order

logger = logging.getLogger(__name__)


def order_pending_record(
    *,
    enrollment: Enrollment,
    amount: Decimal,
    currency: str,
    session_id: str | None = None,
    payment_intent_id: str | None = None,
) -> Order:
    """The pending order of a new Checkout Session or PaymentIntent; the one that
    exists already when the same object is handed out again. Call with the
    enrollment locked."""
    lookup = (
        {"stripe_checkout_session_id": session_id}
        if session_id
        else {"stripe_payment_intent_id": payment_intent_id}
    )
    order = Order.objects.filter(**lookup).first()
    if order is not None:
        return order
    try:
        with transaction.atomic():
            return Order.objects.create(
                enrollment=enrollment,
                amount_subtotal=amount,
                amount_total=amount,
                currency=currency.lower(),
                stripe_checkout_session_id=session_id,
                stripe_payment_intent_id=payment_intent_id,
            )
    except IntegrityError:
        # The payment's own events wrote it first (a webhook faster than us).
        return Order.objects.get(**lookup)


def order_for_payment_get(
    *, session_id: str | None, payment_intent_id: str | None
) -> Order | None:
    """The order of a Checkout Session (by its id) or, when the session has
    none, of a PaymentIntent: one query either way."""
    condition = Q()
    if session_id:
        condition |= Q(stripe_checkout_session_id=session_id)
    if payment_intent_id:
        condition |= Q(stripe_payment_intent_id=payment_intent_id)
    if not condition:
        return None
    orders = Order.objects.filter(condition)
    if session_id and payment_intent_id:
        orders = orders.alias(
            preference=Case(
                When(stripe_checkout_session_id=session_id, then=Value(0)),
                default=Value(1),
            )
        ).order_by("preference", *Order._meta.ordering)
    return orders.first()


def order_with_enrollment_locked(
    *, payment_intent_id: str | None, session_id: str | None = None
) -> tuple[Order, Enrollment] | None:
    """The order of a payment and its enrollment, the enrollment row-locked and the
    order read after the lock (so fresh). Call inside a transaction."""
    if not payment_intent_id and not session_id:
        return None
    condition = Q()
    if payment_intent_id:
        condition |= Q(stripe_payment_intent_id=payment_intent_id)
    if session_id:
        condition |= Q(stripe_checkout_session_id=session_id)
    found = Order.objects.filter(condition).values_list("pk", "enrollment_id").first()
    if found is None:
        return None
    order_id, enrollment_id = found
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment_id)
    return Order.objects.get(pk=order_id), enrollment


def order_charge_apply(order: Order, charge: stripe_gateway.Charge) -> list[str]:
    """Stripe's charge of the order (its id, receipt, refunds so far) onto the
    order, unsaved; returns the fields that changed."""
    changed = []
    if charge.payment_intent_id and order.stripe_payment_intent_id is None:
        order.stripe_payment_intent_id = charge.payment_intent_id
        changed.append("stripe_payment_intent_id")
    if order.stripe_charge_id != charge.id:
        order.stripe_charge_id = charge.id
        changed.append("stripe_charge_id")
    if charge.receipt_url and order.receipt_url != charge.receipt_url:
        order.receipt_url = charge.receipt_url
        changed.append("receipt_url")
    if order.apply_refunded_amount(charge.amount_refunded):
        changed.append("amount_refunded")
    return changed


def order_dispute_apply(order: Order, dispute: stripe_gateway.Dispute) -> list[str]:
    """Stripe's latest word on the order's dispute, unsaved; the changed fields."""
    if order.apply_dispute(dispute_id=dispute.id, status=dispute.status):
        return ["stripe_dispute_id", "dispute_status"]
    return []


def order_save(order: Order, fields: list[str]) -> bool:
    """Settle the order's status from its facts and save what changed (one query,
    none when nothing did). Returns whether anything was saved."""
    status = order.settled_status()
    if status != order.status:
        order.status = status
        fields = [*fields, "status"]
    if not fields:
        return False
    order.save(update_fields=sorted({*fields, "updated_at"}))
    return True


def order_mark_paid(order: Order) -> list[str]:
    """The payment went through (unsaved); the changed fields."""
    if order.paid_at is not None:
        return []
    order.paid_at = timezone.now()
    return ["paid_at"]


def order_mark_unpaid_outcome(order: Order, status: str) -> bool:
    """A pending attempt that failed or expired; a paid order never goes back.
    Saves; returns whether it changed."""
    if order.paid_at is not None or order.status == status:
        return False
    if order.status not in (Order.Status.PENDING, Order.Status.FAILED):
        return False
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    return True


def is_paying_order(enrollment: Enrollment, order: Order) -> bool:
    """Whether this order is the payment that paid the enrollment (not an
    abandoned attempt, nor a second payment refunded automatically)."""
    if order.stripe_payment_intent_id:
        return order.stripe_payment_intent_id == enrollment.stripe_payment_intent_id
    return (
        order.stripe_checkout_session_id is not None
        and order.stripe_checkout_session_id == enrollment.stripe_session_id
        and not enrollment.stripe_payment_intent_id
    )


def enrollment_follow_order(enrollment: Enrollment, order: Order) -> bool:
    """Give the locked enrollment the access its paying order allows: none while
    disputed (or once the dispute is lost) or once refunded in full, back
    after a dispute won. Any other order leaves it alone. Saves; returns
    whether it changed."""
    if not is_paying_order(enrollment, order):
        return False
    if order.status == Order.Status.DISPUTED:
        changed = enrollment.mark_as_disputed()
    elif order.status == Order.Status.REFUNDED:
        changed = enrollment.mark_as_refunded()
    elif order.grants_access:
        changed = enrollment.restore_after_dispute()
    else:
        return False
    if changed:
        logger.warning(
            "Enrollment %s is now %s (order %s)",
            enrollment.pk,
            enrollment.status,
            order.pk,
        )
    return changed
