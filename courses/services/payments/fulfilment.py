"""Granting access exactly once per payment, and the payment's failure or expiry.

Every path that learns about a payment (the webhook, verify_payment, the
reconcile command) ends in `_payment_record`, which locks the enrollment row
and is a no-op when the work is already done.
"""

import datetime
import logging
from collections.abc import Mapping
from decimal import Decimal

from django.db import IntegrityError, transaction

from courses import stripe_gateway
from courses.models import Course, Enrollment
from courses.stripe_gateway import CheckoutSession, PaymentIntent

logger = logging.getLogger(__name__)


def checkout_fulfill(*, session: CheckoutSession) -> Enrollment | None:
    """Grant access for a paid Checkout Session. Safe to repeat and to race.

    Returns the enrollment, or None when the session is unpaid or not ours.
    """
    enrollment, _changed = _checkout_fulfill(session)
    return enrollment


def payment_intent_fulfill(*, payment_intent: PaymentIntent) -> Enrollment | None:
    """Grant access for a succeeded PaymentIntent. Safe to repeat and to race."""
    if not payment_intent.is_succeeded:
        return None
    with transaction.atomic(savepoint=False):
        enrollment = _enrollment_for_payment_locked(
            session_id=None,
            payment_intent_id=payment_intent.id,
            metadata=payment_intent.metadata,
            amount=payment_intent.amount_received,
            email=payment_intent.receipt_email,
            name="",
        )
        if enrollment is None:
            logger.info("PaymentIntent %s is not for a course", payment_intent.id)
            return None
        _payment_record(
            enrollment,
            amount=payment_intent.amount_received,
            payment_intent_id=payment_intent.id,
            customer_id=payment_intent.customer_id,
            session_id=None,
        )
    return enrollment


def payments_reconcile(*, since: datetime.datetime) -> list[Enrollment]:
    """Fulfil every paid Checkout Session since a time that we missed; returns those."""
    repaired = []
    created_since = int(since.timestamp())
    for session in stripe_gateway.checkout_session_list_completed(
        created_since=created_since
    ):
        if not session.metadata.get("clerk_user_id"):
            continue  # not a course purchase
        enrollment, changed = _checkout_fulfill(session)
        if changed and enrollment is not None:
            logger.warning(
                "Reconcile: enrollment %s paid by session %s", enrollment.pk, session.id
            )
            repaired.append(enrollment)
    return repaired


def payment_failed(
    *, checkout_session_id: str | None = None, payment_intent_id: str | None = None
) -> Enrollment | None:
    """A failed payment; only the pending enrollment of that very payment changes."""
    with transaction.atomic(savepoint=False):
        locked = Enrollment.objects.select_for_update()
        if checkout_session_id:
            enrollment = locked.filter(stripe_session_id=checkout_session_id).first()
        elif payment_intent_id:
            enrollment = locked.filter(
                stripe_payment_intent_id=payment_intent_id
            ).first()
        else:
            raise ValueError("checkout_session_id or payment_intent_id is required")
        if enrollment is not None:
            enrollment.mark_as_failed()
    return enrollment


def checkout_expired(*, session: CheckoutSession) -> Enrollment | None:
    """An abandoned session; never touches a paid enrollment or a newer session."""
    with transaction.atomic(savepoint=False):
        enrollment = (
            Enrollment.objects.select_for_update()
            .filter(stripe_session_id=session.id)
            .first()
        )
        if enrollment is not None:
            enrollment.mark_as_expired()
    return enrollment


def _checkout_fulfill(session: CheckoutSession) -> tuple[Enrollment | None, bool]:
    """The single fulfilment of a Checkout Session: (enrollment, whether it changed)."""
    if not session.is_paid:
        return None, False
    with transaction.atomic(savepoint=False):
        enrollment = _enrollment_for_payment_locked(
            session_id=session.id,
            payment_intent_id=None,
            metadata=session.metadata,
            amount=session.amount_total,
            email=session.customer_email,
            name=session.customer_name,
        )
        if enrollment is None:
            logger.warning("Paid session %s matches no course purchase", session.id)
            return None, False
        changed = _payment_record(
            enrollment,
            amount=session.amount_total,
            payment_intent_id=session.payment_intent_id,
            customer_id=session.customer_id,
            session_id=session.id,
        )
    return enrollment, changed


def _payment_record(
    enrollment: Enrollment,
    *,
    amount: Decimal | None,
    payment_intent_id: str | None,
    customer_id: str | None,
    session_id: str | None,
) -> bool:
    """Mark a locked enrollment paid with what Stripe charged; False if no change."""
    if enrollment.status == Enrollment.Status.REFUNDED:
        # A replayed or reconciled payment must not give back revoked access.
        logger.info("Enrollment %s was refunded: payment not re-applied", enrollment.pk)
        return False
    if enrollment.status == Enrollment.Status.PAID:
        is_same_payment = (
            session_id and enrollment.stripe_session_id == session_id
        ) or (
            payment_intent_id
            and enrollment.stripe_payment_intent_id == payment_intent_id
        )
        if not is_same_payment:
            logger.warning(
                "Enrollment %s already paid; second payment (session %s, "
                "PaymentIntent %s) needs a refund",
                enrollment.pk,
                session_id,
                payment_intent_id,
            )
        return False
    if session_id and enrollment.stripe_session_id != session_id:
        # Paid through an older session than the one stored (two open tabs).
        enrollment.stripe_session_id = session_id
        enrollment.save(update_fields=["stripe_session_id"])
    return enrollment.mark_as_paid(
        price_paid=amount,
        payment_intent_id=payment_intent_id,
        customer_id=customer_id,
    )


def _enrollment_for_payment_locked(
    *,
    session_id: str | None,
    payment_intent_id: str | None,
    metadata: Mapping[str, str],
    amount: Decimal | None,
    email: str,
    name: str,
) -> Enrollment | None:
    """The enrollment a payment is for, row-locked; created from metadata if missing."""
    locked = Enrollment.objects.select_for_update()
    if session_id:
        enrollment = locked.filter(stripe_session_id=session_id).first()
        if enrollment is not None:
            return enrollment
    if payment_intent_id:
        enrollment = locked.filter(stripe_payment_intent_id=payment_intent_id).first()
        if enrollment is not None:
            return enrollment
    course_id = str(metadata.get("course_id", ""))
    clerk_user_id = metadata.get("clerk_user_id", "")
    if not course_id.isdigit() or not clerk_user_id:
        return None
    enrollment = locked.filter(course_id=course_id, clerk_user_id=clerk_user_id).first()
    if enrollment is not None:
        return enrollment
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        logger.error("Payment for unknown course %s", course_id)
        return None
    # The pending row was never written or is gone: the payment says who bought what.
    try:
        with transaction.atomic():
            return Enrollment.objects.create(
                course=course,
                clerk_user_id=clerk_user_id,
                student_email=email,
                student_name=name[:200],
                price_paid=amount if amount is not None else course.price,
            )
    except IntegrityError:
        # Written concurrently by checkout_start or another delivery.
        return locked.get(course_id=course_id, clerk_user_id=clerk_user_id)
