"""Refunds through Stripe: made by staff (access revoked once), reported by Stripe
(whole or partial, before or after the payment is recorded), or made
automatically for a second payment of one enrollment (access kept).

Every refund we make refunds what is left of one PaymentIntent under an
idempotency key that names it, so a retry, a double click or a concurrent call
refunds once. Each one is written on the payment's order too.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from courses import stripe_gateway
from courses.models import Enrollment, Order, PaymentReview
from courses.services.payments.errors import NotRefundable
from courses.services.payments.orders import (
    enrollment_follow_order,
    is_paying_order,
    order_charge_apply,
    order_save,
    order_with_enrollment_locked,
)
from courses.services.payments.payment import session_id_for_payment_intent

logger = logging.getLogger(__name__)

_LAST_ERROR_MAX_LENGTH = 2000


def enrollment_refund(*, enrollment_id: int) -> Enrollment:
    """Refund a paid enrollment in full through Stripe and revoke access. Idempotent.

    Raises Enrollment.DoesNotExist, NotRefundable (not paid, or paid without
    Stripe), or the gateway's PaymentsNotConfigured / PaymentProviderError.
    """
    enrollment = Enrollment.objects.get(pk=enrollment_id)
    if enrollment.status == Enrollment.Status.REFUNDED:
        return enrollment
    if enrollment.status == Enrollment.Status.DISPUTED:
        # Stripe refuses to refund a disputed charge: the bank decides.
        raise NotRefundable(_("This payment is disputed: the bank decides."))
    if enrollment.status != Enrollment.Status.PAID:
        raise NotRefundable
    payment_intent_id = enrollment.stripe_payment_intent_id
    if not payment_intent_id:
        raise NotRefundable(_("This enrollment has no Stripe payment to refund."))
    _full_refund(
        payment_intent_id=payment_intent_id,
        # One refund per payment, however often staff click.
        idempotency_key=f"refund-enrollment-{enrollment.pk}-{payment_intent_id}",
    )
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment_id)
        if (
            enrollment.status == Enrollment.Status.PAID
            and enrollment.stripe_payment_intent_id == payment_intent_id
        ):
            enrollment.mark_as_refunded()
        _order_refunded_in_full(payment_intent_id)
    return enrollment


def order_refund(*, order_id: int) -> Order:
    """Refund what is left of a paid order through Stripe. Idempotent.

    The order that paid its enrollment is refunded as enrollment_refund does
    (access revoked); another paid order of the enrollment (a second payment)
    is refunded as the automatic refund does (access kept). Raises
    Order.DoesNotExist, NotRefundable, or the gateway's errors.
    """
    order = Order.objects.select_related("enrollment").get(pk=order_id)
    if order.status == Order.Status.REFUNDED:
        return order
    if order.status == Order.Status.DISPUTED:
        raise NotRefundable(_("This payment is disputed: the bank decides."))
    payment_intent_id = order.stripe_payment_intent_id
    if order.paid_at is None or not payment_intent_id or not order.amount_total:
        raise NotRefundable(_("This order has no Stripe payment to refund."))
    if is_paying_order(order.enrollment, order):
        enrollment_refund(enrollment_id=order.enrollment_id)
        return Order.objects.get(pk=order_id)
    review = PaymentReview.objects.filter(
        kind=PaymentReview.Kind.DUPLICATE, stripe_payment_intent_id=payment_intent_id
    ).first()
    if review is not None and review.status == PaymentReview.Status.REFUND_PENDING:
        review = duplicate_payment_refund(review_id=review.pk)
        if review.status != PaymentReview.Status.REFUNDED:
            # Kept pending with Stripe's error; the caller reports the failure.
            raise stripe_gateway.PaymentProviderError(review.last_error)
        return Order.objects.get(pk=order_id)
    _full_refund(
        payment_intent_id=payment_intent_id,
        # The automatic refund's key: a second payment is refunded once.
        idempotency_key=f"refund-second-payment-{payment_intent_id}",
    )
    with transaction.atomic():
        _order_refunded_in_full(payment_intent_id)
    return Order.objects.get(pk=order_id)


def refund_recorded(*, charge: stripe_gateway.Charge) -> Enrollment | None:
    """charge.refunded (or a refund found by reconcile): the payment's order
    records what was refunded so far. A full refund of the payment that paid
    an enrollment revokes access; a partial one keeps it. Returns the
    enrollment when it lost access just now.

    Told before the payment was recorded, the refund is kept on the pending
    order (its Checkout Session is asked of Stripe first, outside any lock)
    and applied when the payment is recorded.
    """
    enrollment, _changed = charge_apply(
        charge, session_id=session_id_for_payment_intent(charge.payment_intent_id)
    )
    return enrollment


def charge_apply(
    charge: stripe_gateway.Charge, *, session_id: str | None
) -> tuple[Enrollment | None, bool]:
    """A charge as Stripe reports it (charge.succeeded, charge.refunded, or
    found by reconcile) onto its payment's order: its id, receipt and amount
    refunded so far, the enrollment following. `session_id`: from
    session_id_for_payment_intent, read beforehand. Returns the enrollment
    when it lost access just now, and whether the order changed."""
    if not charge.payment_intent_id:
        return None, False
    with transaction.atomic(savepoint=False):
        found = order_with_enrollment_locked(
            payment_intent_id=charge.payment_intent_id, session_id=session_id
        )
        if found is None:
            logger.info("Charge %s matches no order", charge.id)
            return None, False
        order, enrollment = found
        changed = order_save(order, order_charge_apply(order, charge))
        was_refunded = enrollment.status == Enrollment.Status.REFUNDED
        enrollment_follow_order(enrollment, order)
    if changed and order.status == Order.Status.PARTIALLY_REFUNDED:
        logger.info("Charge %s partly refunded: access kept", charge.id)
    if not was_refunded and enrollment.status == Enrollment.Status.REFUNDED:
        return enrollment, changed
    return None, changed


def duplicate_payment_refund(*, review_id: int) -> PaymentReview:
    """Refund a second payment recorded for an enrollment already paid. Idempotent.

    Access is not touched: the first payment still pays for it. A Stripe
    failure is logged and kept on the row, which stays refund_pending for the
    next attempt (payment_reviews_refund_pending); it is not raised.
    """
    review = PaymentReview.objects.get(pk=review_id)
    if review.status != PaymentReview.Status.REFUND_PENDING:
        return review
    payment_intent_id = review.stripe_payment_intent_id
    try:
        refund_id = _full_refund(
            payment_intent_id=payment_intent_id,
            # The same key from every path (after commit, reconcile, admin).
            idempotency_key=f"refund-second-payment-{payment_intent_id}",
        )
    except (
        stripe_gateway.PaymentsNotConfigured,
        stripe_gateway.PaymentProviderError,
    ) as exc:
        logger.error(
            "Refund of second payment %s (enrollment %s) failed, still pending: %s",
            payment_intent_id,
            review.enrollment_id,
            type(exc).__name__,
        )
        message = f"{type(exc).__name__}: {exc}"[:_LAST_ERROR_MAX_LENGTH]
        PaymentReview.objects.filter(
            pk=review.pk, status=PaymentReview.Status.REFUND_PENDING
        ).update(last_error=message, updated_at=timezone.now())
        review.refresh_from_db()
        return review
    with transaction.atomic():
        review = PaymentReview.objects.select_for_update().get(pk=review_id)
        if review.mark_refunded(refund_id=refund_id):
            logger.warning(
                "Second payment %s (enrollment %s, %s %s) refunded: refund %s",
                payment_intent_id,
                review.enrollment_id,
                review.amount,
                review.currency.upper(),
                refund_id or "(already refunded at Stripe)",
            )
    # Apart: the review's lock is not held while the enrollment's is taken.
    with transaction.atomic():
        _order_refunded_in_full(payment_intent_id)
    return review


def payment_reviews_refund_pending() -> list[PaymentReview]:
    """Try again every automatic refund still pending; returns the rows tried."""
    pending = PaymentReview.objects.filter(
        status=PaymentReview.Status.REFUND_PENDING
    ).order_by("pk")
    return [
        duplicate_payment_refund(review_id=pk)
        for pk in pending.values_list("pk", flat=True)
    ]


def _order_refunded_in_full(payment_intent_id: str) -> None:
    """The order of a PaymentIntent we just refunded: refunded in full (the
    charge.refunded event says the same; whichever comes first wins). Its
    enrollment follows if it is the payment that paid it. Call in a
    transaction."""
    found = order_with_enrollment_locked(payment_intent_id=payment_intent_id)
    if found is None:
        return
    order, enrollment = found
    if order.apply_refunded_amount(order.amount_total):
        order_save(order, ["amount_refunded"])
        enrollment_follow_order(enrollment, order)


def _full_refund(*, payment_intent_id: str, idempotency_key: str) -> str:
    """Refund a PaymentIntent in full; its refund id ("" if Stripe had already
    refunded it, from the dashboard or an earlier attempt past the key's life)."""
    try:
        refund = stripe_gateway.refund_create(
            payment_intent_id=payment_intent_id, idempotency_key=idempotency_key
        )
    except stripe_gateway.PaymentProviderError as exc:
        if exc.code != "charge_already_refunded":
            raise
        return ""
    return refund.id
