"""Granting access exactly once per payment, and the payment's failure or expiry.

Every path that learns about a payment (the webhook, verify_payment, the
reconcile command) ends in `_payment_fulfil`, which first checks what Stripe
says was paid (currency, test or live mode), then locks the enrollment row and
is a no-op when the work is already done. A second payment for an enrollment
already paid is recorded under the same lock and refunded once the
transaction commits (never during it: the refund is a network call).
"""

import datetime
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from courses import stripe_gateway
from courses.models import Course, Enrollment, PaymentReview
from courses.services.payments.refunds import duplicate_payment_refund
from courses.stripe_gateway import CheckoutSession, PaymentIntent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Payment:
    """What Stripe says was paid, from a Checkout Session or a PaymentIntent."""

    session_id: str | None
    payment_intent_id: str | None
    customer_id: str | None
    amount: Decimal | None
    currency: str
    is_livemode: bool
    metadata: Mapping[str, str]
    email: str
    name: str

    @classmethod
    def of_session(cls, session: CheckoutSession) -> "_Payment":
        return cls(
            session_id=session.id,
            payment_intent_id=session.payment_intent_id,
            customer_id=session.customer_id,
            amount=session.amount_total,
            currency=session.currency,
            is_livemode=session.is_livemode,
            metadata=session.metadata,
            email=session.customer_email,
            name=session.customer_name,
        )

    @classmethod
    def of_payment_intent(cls, payment_intent: PaymentIntent) -> "_Payment":
        return cls(
            session_id=None,
            payment_intent_id=payment_intent.id,
            customer_id=payment_intent.customer_id,
            amount=payment_intent.amount_received,
            currency=payment_intent.currency,
            is_livemode=payment_intent.is_livemode,
            metadata=payment_intent.metadata,
            email=payment_intent.receipt_email,
            name="",
        )

    @property
    def label(self) -> str:
        return self.payment_intent_id or self.session_id or "?"


def checkout_fulfill(*, session: CheckoutSession) -> Enrollment | None:
    """Grant access for a paid Checkout Session. Safe to repeat and to race.

    Returns the enrollment, or None when the session is unpaid, not ours, or
    refused (another currency or Stripe mode: recorded for staff instead).
    """
    enrollment, _changed = _checkout_fulfill(session)
    return enrollment


def payment_intent_fulfill(*, payment_intent: PaymentIntent) -> Enrollment | None:
    """Grant access for a succeeded PaymentIntent. Safe to repeat and to race."""
    if not payment_intent.is_succeeded:
        return None
    # A Checkout Session's own PaymentIntent carries no course metadata: its
    # session's event is the one that counts, so finding nothing is normal.
    enrollment, _changed = _payment_fulfil(
        _Payment.of_payment_intent(payment_intent), unmatched_level=logging.INFO
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
    return _payment_fulfil(
        _Payment.of_session(session), unmatched_level=logging.WARNING
    )


def _payment_fulfil(
    payment: _Payment, *, unmatched_level: int
) -> tuple[Enrollment | None, bool]:
    refusal = _payment_refusal(payment)
    with transaction.atomic(savepoint=False):
        # A refused payment never creates an enrollment from its metadata.
        enrollment = _enrollment_for_payment_locked(payment, create=refusal is None)
        is_for_a_course = enrollment is not None or _names_a_course(payment)
        if refusal is not None and is_for_a_course:
            kind, reason = refusal
            _payment_refused(payment, enrollment, kind=kind, reason=reason)
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


def _names_a_course(payment: _Payment) -> bool:
    course_id = str(payment.metadata.get("course_id", ""))
    return course_id.isdigit() and bool(payment.metadata.get("clerk_user_id"))


def _payment_refusal(payment: _Payment) -> tuple[str, str] | None:
    """(kind, reason) when this payment must not grant access as it is."""
    is_live_key = stripe_gateway.is_live_key()
    if payment.is_livemode != is_live_key:
        # A test card must never buy a real course, nor a live payment be
        # handled by a test deployment.
        return (
            PaymentReview.Kind.WRONG_MODE,
            "{} payment, but STRIPE_SECRET_KEY is a {} key.".format(
                "Live-mode" if payment.is_livemode else "Test-mode",
                "live" if is_live_key else "test",
            ),
        )
    expected = settings.STRIPE_CURRENCY.lower()
    if payment.currency.lower() != expected:
        return (
            PaymentReview.Kind.WRONG_CURRENCY,
            f"Paid in {payment.currency.upper() or '(none)'}, but course prices "
            f"are in {expected.upper()} (STRIPE_CURRENCY).",
        )
    return None


def _payment_refused(
    payment: _Payment, enrollment: Enrollment | None, *, kind: str, reason: str
) -> None:
    """Record a refused payment for staff (once) and log it; access is not granted."""
    _review, created = _review_get_or_create(
        payment,
        kind=kind,
        status=PaymentReview.Status.TO_REVIEW,
        reason=reason,
        enrollment=enrollment,
    )
    if created:
        logger.warning(
            "Payment %s not granted, kept for staff review: %s", payment.label, reason
        )


def _review_get_or_create(
    payment: _Payment,
    *,
    kind: str,
    status: str,
    reason: str,
    enrollment: Enrollment | None,
) -> tuple[PaymentReview, bool]:
    """One row per payment and kind (unique constraints), even delivered in parallel."""
    if payment.payment_intent_id:
        lookup = {"kind": kind, "stripe_payment_intent_id": payment.payment_intent_id}
    else:
        lookup = {"kind": kind, "stripe_session_id": payment.session_id}
    fields = {
        "kind": kind,
        "status": status,
        "reason": reason[:255],
        "enrollment": enrollment,
        "stripe_session_id": payment.session_id,
        "stripe_payment_intent_id": payment.payment_intent_id,
        "amount": payment.amount,
        "currency": payment.currency.lower()[:8],
        "is_livemode": payment.is_livemode,
    }
    existing = PaymentReview.objects.filter(**lookup).first()
    if existing is not None:
        # Told first by the PaymentIntent's event, then by its session's: keep
        # what the later one knows.
        if existing.stripe_session_id is None and payment.session_id:
            existing.stripe_session_id = payment.session_id
            existing.enrollment = existing.enrollment or enrollment
            existing.save(
                update_fields=["stripe_session_id", "enrollment", "updated_at"]
            )
        return existing, False
    try:
        with transaction.atomic():
            return PaymentReview.objects.create(**fields), True
    except IntegrityError:
        # Written concurrently by another delivery of the same payment.
        return PaymentReview.objects.get(**lookup), False


def _is_same_payment(enrollment: Enrollment, payment: _Payment) -> bool:
    """Whether this payment is the one that paid the enrollment (a replay)."""
    # The PaymentIntent is the payment itself; a session without one (nothing
    # to pay) is known by its own id.
    if payment.payment_intent_id and enrollment.stripe_payment_intent_id:
        return payment.payment_intent_id == enrollment.stripe_payment_intent_id
    return (
        bool(payment.session_id) and payment.session_id == enrollment.stripe_session_id
    )


def _payment_record(enrollment: Enrollment, payment: _Payment) -> bool:
    """Mark a locked enrollment paid with what Stripe charged; False if no change."""
    if enrollment.status in (Enrollment.Status.PAID, Enrollment.Status.REFUNDED):
        if _is_same_payment(enrollment, payment):
            # A replayed or reconciled payment: nothing to do, and one that
            # was refunded must not give back revoked access.
            return False
        _second_payment_record(enrollment, payment)
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
    return enrollment.mark_as_paid(
        price_paid=payment.amount,
        payment_intent_id=payment.payment_intent_id,
        customer_id=payment.customer_id,
    )


def _second_payment_record(enrollment: Enrollment, payment: _Payment) -> None:
    """Record a second payment for a paid (or refunded) enrollment; refund it after
    the commit, so the row lock is never held across the call to Stripe."""
    if not payment.payment_intent_id or not payment.amount:
        logger.warning(
            "Enrollment %s already paid; second payment %s charged nothing",
            enrollment.pk,
            payment.label,
        )
        return
    review, created = _review_get_or_create(
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
    payment: _Payment, *, create: bool
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
    if not _names_a_course(payment):
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
