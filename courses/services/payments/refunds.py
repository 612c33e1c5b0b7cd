"""Refunds through Stripe: made by staff (access revoked once), reported by Stripe,
or made automatically for a second payment of one enrollment (access kept).

Every refund is a full refund of one PaymentIntent under an idempotency key
that names it, so a retry, a double click or a concurrent call refunds once.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from courses import stripe_gateway
from courses.models import Enrollment, PaymentReview
from courses.services.payments.errors import NotRefundable

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
    return enrollment


def refund_recorded(*, charge: stripe_gateway.Charge) -> Enrollment | None:
    """charge.refunded: a full refund revokes access; a partial one keeps it."""
    if not charge.is_fully_refunded or not charge.payment_intent_id:
        logger.info("Charge %s partly refunded: access kept", charge.id)
        return None
    with transaction.atomic(savepoint=False):
        enrollment = (
            Enrollment.objects.select_for_update()
            .filter(stripe_payment_intent_id=charge.payment_intent_id)
            .first()
        )
        if enrollment is not None:
            enrollment.mark_as_refunded()
    return enrollment


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
