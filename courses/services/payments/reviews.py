"""Payments that do not grant access as they come, kept for staff (PaymentReview):
one in another currency or Stripe mode (refused), or a second payment for an
enrollment already paid (refunded automatically)."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from courses import stripe_gateway
from courses.models import Enrollment, PaymentReview
from courses.services.payments.payment import Payment

logger = logging.getLogger(__name__)


def payment_refusal(payment: Payment) -> tuple[str, str] | None:
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


def payment_refused(
    payment: Payment, enrollment: Enrollment | None, *, kind: str, reason: str
) -> None:
    """Record a refused payment for staff (once) and log it; access is not granted."""
    _review, created = review_get_or_create(
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


def review_get_or_create(
    payment: Payment,
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
