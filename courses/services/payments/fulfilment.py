"""Granting access exactly once per payment, and the payment's failure or expiry.

Every path that learns about a payment (the webhook, verify_payment, the
reconcile command) ends in `payment_fulfil`, which first checks what Stripe
says was paid (currency, test or live mode), then locks the enrollment row and
is a no-op when the work is already done. The payment's order is written
under the same lock, with what Stripe says of the charge now (receipt,
refunds, dispute): a refund or a dispute that came before the payment was
recorded is applied with it. A second payment for an enrollment already paid
is recorded under the same lock and refunded once the transaction commits
(never during it: the refund is a network call).
"""

import functools
import logging
from collections.abc import Mapping
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from courses.models import Course, Enrollment, Order, PaymentReview
from courses.services.payments.orders import (
    enrollment_follow_order,
    order_charge_apply,
    order_dispute_apply,
    order_for_payment_get,
    order_mark_paid,
    order_mark_unpaid_outcome,
    order_save,
    order_with_enrollment_locked,
)
from courses.services.payments.payment import (
    Payment,
    payment_of_payment_intent,
    payment_of_session,
)
from courses.services.payments.refunds import duplicate_payment_refund
from courses.services.payments.reviews import (
    payment_refusal,
    payment_refused,
    review_get_or_create,
)
from courses.stripe_gateway import CheckoutSession, PaymentIntent

logger = logging.getLogger(__name__)

_ZERO = Decimal("0.00")


def checkout_fulfill(*, session: CheckoutSession) -> Enrollment | None:
    """Grant access for a paid Checkout Session. Safe to repeat and to race.

    Returns the enrollment, or None when the session is unpaid, not ours, or
    refused (another currency or Stripe mode: recorded for staff instead).
    Reads from Stripe what the session names without carrying it (the
    promotion code, the invoice) before locking anything.
    """
    enrollment, _changed = checkout_fulfill_changed(session)
    return enrollment


def checkout_fulfill_changed(
    session: CheckoutSession,
) -> tuple[Enrollment | None, bool]:
    """checkout_fulfill, and whether it granted access just now."""
    if not session.is_paid:
        return None, False
    return payment_fulfil(payment_of_session(session), unmatched_level=logging.WARNING)


def payment_intent_fulfill(*, payment_intent: PaymentIntent) -> Enrollment | None:
    """Grant access for a succeeded PaymentIntent. Safe to repeat and to race.

    A Checkout Session's own PaymentIntent carries no course metadata: its
    session's event is the one that counts, so finding nothing is normal.
    """
    payment = payment_intent_payment_read(payment_intent)
    if payment is None:
        return None
    enrollment, _changed = payment_fulfil(payment, unmatched_level=logging.INFO)
    return enrollment


def payment_intent_payment_read(payment_intent: PaymentIntent) -> Payment | None:
    """A succeeded PaymentIntent as a Payment (None otherwise). Call outside any
    transaction (a disputed charge is asked about)."""
    if not payment_intent.is_succeeded:
        return None
    return payment_of_payment_intent(payment_intent)


def payment_failed(
    *, checkout_session_id: str | None = None, payment_intent_id: str | None = None
) -> Enrollment | None:
    """A failed payment; only the pending enrollment of that very payment changes,
    and the payment's own order."""
    if not checkout_session_id and not payment_intent_id:
        raise ValueError("checkout_session_id or payment_intent_id is required")
    with transaction.atomic(savepoint=False):
        found = order_with_enrollment_locked(
            session_id=checkout_session_id,
            payment_intent_id=None if checkout_session_id else payment_intent_id,
        )
        if found is not None:
            order_mark_unpaid_outcome(found[0], Order.Status.FAILED)
        locked = Enrollment.objects.select_for_update()
        if checkout_session_id:
            enrollment = locked.filter(stripe_session_id=checkout_session_id).first()
        else:
            enrollment = locked.filter(
                stripe_payment_intent_id=payment_intent_id
            ).first()
        if enrollment is not None:
            enrollment.mark_as_failed()
    return enrollment


def checkout_expired(*, session: CheckoutSession) -> Enrollment | None:
    """An abandoned session: its order expires; its enrollment too, unless paid
    or holding a newer session."""
    with transaction.atomic(savepoint=False):
        found = order_with_enrollment_locked(
            session_id=session.id, payment_intent_id=None
        )
        if found is not None:
            order_mark_unpaid_outcome(found[0], Order.Status.EXPIRED)
        enrollment = (
            Enrollment.objects.select_for_update()
            .filter(stripe_session_id=session.id)
            .first()
        )
        if enrollment is not None:
            enrollment.mark_as_expired()
    return enrollment


def payment_fulfil(
    payment: Payment, *, unmatched_level: int
) -> tuple[Enrollment | None, bool]:
    """Record a payment read from Stripe: (its enrollment, whether access was
    granted just now). No network call."""
    refusal = payment_refusal(payment)
    with transaction.atomic(savepoint=False):
        # A refused payment never creates an enrollment from its metadata.
        enrollment = _enrollment_for_payment_locked(payment, create=refusal is None)
        is_for_a_course = enrollment is not None or _names_a_course(payment.metadata)
        if refusal is not None and is_for_a_course:
            kind, reason = refusal
            payment_refused(payment, enrollment, kind=kind, reason=reason)
            return None, False
        if enrollment is None:
            # Not ours (another product on the same Stripe account): ignored,
            # whatever its currency or mode.
            logger.log(
                unmatched_level, "Payment %s matches no course purchase", payment.label
            )
            return None, False
        changed = _payment_record(enrollment, payment)
    return enrollment, changed


def _names_a_course(metadata: Mapping[str, str]) -> bool:
    course_id = str(metadata.get("course_id", ""))
    return course_id.isdigit() and bool(metadata.get("clerk_user_id"))


def _is_same_payment(enrollment: Enrollment, payment: Payment) -> bool:
    """Whether this payment is the one that paid the enrollment (a replay)."""
    # The PaymentIntent is the payment itself; a session without one (nothing
    # to pay) is known by its own id.
    if payment.payment_intent_id and enrollment.stripe_payment_intent_id:
        return payment.payment_intent_id == enrollment.stripe_payment_intent_id
    return (
        bool(payment.session_id) and payment.session_id == enrollment.stripe_session_id
    )


_ACCESS_DECIDED = (
    Enrollment.Status.PAID,
    Enrollment.Status.REFUNDED,
    Enrollment.Status.DISPUTED,
)


def _payment_record(enrollment: Enrollment, payment: Payment) -> bool:
    """Mark a locked enrollment paid with what Stripe charged, and write the
    payment's order; False if access did not change."""
    order = order_for_payment_get(
        session_id=payment.session_id, payment_intent_id=payment.payment_intent_id
    )
    if enrollment.status in _ACCESS_DECIDED:
        if _is_same_payment(enrollment, payment):
            # A replayed or reconciled payment: its order learns what Stripe
            # says now (a refund or dispute missed), but a payment refunded
            # or disputed never gives back revoked access by itself.
            order = _order_payment_record(enrollment, order, payment)
            enrollment_follow_order(enrollment, order)
            return False
        _second_payment_record(enrollment, payment)
        _order_payment_record(enrollment, order, payment)
        return False
    fields = []
    if payment.session_id and enrollment.stripe_session_id != payment.session_id:
        # Paid through an older session than the one stored (two open tabs).
        enrollment.stripe_session_id = payment.session_id
        fields.append("stripe_session_id")
    if (
        payment.session_id
        and not payment.payment_intent_id
        and enrollment.stripe_payment_intent_id
    ):
        # Nothing was charged (a 100% discount): the PaymentIntent of an
        # earlier attempt is not what paid, and must not pass for it later.
        enrollment.stripe_payment_intent_id = None
        fields.append("stripe_payment_intent_id")
    if fields:
        enrollment.save(update_fields=fields)
    changed = enrollment.mark_as_paid(
        price_paid=payment.amount,
        payment_intent_id=payment.payment_intent_id,
        customer_id=payment.customer_id,
    )
    order = _order_payment_record(enrollment, order, payment)
    # Refunded or disputed before we heard of the payment: access goes as
    # soon as it came.
    enrollment_follow_order(enrollment, order)
    return changed


def _order_payment_record(
    enrollment: Enrollment, order: Order | None, payment: Payment
) -> Order:
    """The payment's order, paid, with what Stripe says of it now; created if the
    checkout never wrote one. One query (none if nothing changed)."""
    is_new = order is None
    if order is None:
        order = Order(
            enrollment=enrollment,
            stripe_checkout_session_id=payment.session_id,
            created_at=timezone.now(),
        )
    amount_total = payment.amount if payment.amount is not None else _ZERO
    values = {
        "amount_total": amount_total,
        "amount_subtotal": payment.amount_subtotal
        if payment.amount_subtotal is not None
        else amount_total,
        "amount_discount": payment.amount_discount,
        "currency": payment.currency.lower()[:8],
    }
    if payment.payment_intent_id:
        values["stripe_payment_intent_id"] = payment.payment_intent_id
    if payment.promotion_code:
        values["promotion_code"] = payment.promotion_code
    if payment.hosted_invoice_url:
        values["hosted_invoice_url"] = payment.hosted_invoice_url
    fields = [name for name, value in values.items() if getattr(order, name) != value]
    for name in fields:
        setattr(order, name, values[name])
    fields += order_mark_paid(order)
    if payment.charge is not None:
        fields += order_charge_apply(order, payment.charge)
    if payment.dispute is not None:
        fields += order_dispute_apply(order, payment.dispute)
    if is_new:
        order.status = order.settled_status()
        order.save()
    else:
        order_save(order, fields)
    return order


def _second_payment_record(enrollment: Enrollment, payment: Payment) -> None:
    """Record a second payment for a paid (or refunded) enrollment; refund it after
    the commit, so the row lock is never held across the call to Stripe."""
    if not payment.payment_intent_id or not payment.amount:
        logger.warning(
            "Enrollment %s already paid; second payment %s charged nothing",
            enrollment.pk,
            payment.label,
        )
        return
    review, created = review_get_or_create(
        payment,
        kind=PaymentReview.Kind.DUPLICATE,
        status=PaymentReview.Status.REFUND_PENDING,
        reason=(
            f"Enrollment {enrollment.pk} was already {enrollment.status}; "
            "this second payment is refunded automatically."
        ),
        enrollment=enrollment,
    )
    if created:
        logger.warning(
            "Enrollment %s already %s; second payment %s (%s %s) will be refunded",
            enrollment.pk,
            enrollment.status,
            payment.label,
            payment.amount,
            payment.currency.upper(),
        )
    if review.status == PaymentReview.Status.REFUND_PENDING:
        # robust: a failed refund is logged and stays pending (retried by
        # reconcile_payments); it must not turn a committed payment into a 500.
        transaction.on_commit(
            functools.partial(duplicate_payment_refund, review_id=review.pk),
            robust=True,
        )


def _enrollment_for_payment_locked(
    payment: Payment, *, create: bool
) -> Enrollment | None:
    """The enrollment a payment is for, row-locked; created from metadata if missing
    (and `create` is true)."""
    locked = Enrollment.objects.select_for_update()
    if payment.session_id:
        enrollment = locked.filter(stripe_session_id=payment.session_id).first()
        if enrollment is not None:
            return enrollment
    elif payment.payment_intent_id:
        enrollment = locked.filter(
            stripe_payment_intent_id=payment.payment_intent_id
        ).first()
        if enrollment is not None:
            return enrollment
    if not _names_a_course(payment.metadata):
        return None
    course_id = str(payment.metadata["course_id"])
    clerk_user_id = payment.metadata["clerk_user_id"]
    enrollment = locked.filter(course_id=course_id, clerk_user_id=clerk_user_id).first()
    if enrollment is not None or not create:
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
                student_email=payment.email,
                student_name=payment.name[:200],
                price_paid=payment.amount
                if payment.amount is not None
                else course.price,
            )
    except IntegrityError:
        # Written concurrently by checkout_start or another delivery.
        return locked.get(course_id=course_id, clerk_user_id=clerk_user_id)
