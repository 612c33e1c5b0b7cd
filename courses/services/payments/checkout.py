"""Starting a payment: a Checkout Session or a PaymentIntent for a pending enrollment,
and the student's return from Checkout.

The pending row is written before Stripe is called, and Stripe calls happen
outside row locks. An enrollment has at most one payable Checkout Session: a
new one is created only after the previous one is expired at Stripe, and each
expires on its own after STRIPE_CHECKOUT_EXPIRES_MINUTES.
"""

import hashlib
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Course, Enrollment
from courses.services.payments.errors import (
    AlreadyEnrolled,
    EnrollmentRefunded,
    PaymentInProgress,
    PaymentNotFound,
)
from courses.services.payments.fulfilment import (
    checkout_fulfill,
    payment_intent_fulfill,
)
from courses.stripe_gateway import CheckoutSession, PaymentIntent

logger = logging.getLogger(__name__)

_ZERO = Decimal("0.00")

# Stripe's bounds for expires_at, measured from the session's creation.
_STRIPE_EXPIRES_MIN_SECONDS = 30 * 60
_STRIPE_EXPIRES_MAX_SECONDS = 24 * 3600
# expires_at is rounded down to this step. The idempotency key includes it, and
# Stripe refuses a key reused with other parameters: the same request repeated
# within the step (a double click, a retry after a timeout) sends the very same
# parameters and gets the same session back.
_EXPIRES_AT_STEP_SECONDS = 300
# Room for the difference between this server's clock and Stripe's.
_EXPIRES_AT_MARGIN_SECONDS = 60
# An open session closer than this to its expiry is not handed out again.
_REUSE_MIN_REMAINING_SECONDS = 10 * 60


@dataclass(frozen=True)
class CheckoutStart:
    enrollment: Enrollment
    # None for a free course: the student is enrolled at once, without Stripe.
    session: CheckoutSession | None


@dataclass(frozen=True)
class PaymentIntentStart:
    enrollment: Enrollment
    payment_intent: PaymentIntent


@dataclass(frozen=True)
class PaymentVerification:
    status: str  # "paid", "pending" or "refunded"
    payment_status: str  # Stripe's payment_status of the session
    enrollment: Enrollment | None


def checkout_start(
    *, course: Course, student: ClerkUser, success_url: str, cancel_url: str
) -> CheckoutStart:
    """A Stripe Checkout Session for a pending enrollment written beforehand.

    The pending row exists before Stripe does, so a webhook that comes back
    faster than this function finds it. A free course is enrolled at once.
    """
    enrollment = _pending_enrollment_get_or_create(course=course, student=student)
    if course.price == _ZERO:
        return CheckoutStart(
            enrollment=_free_enrollment_grant(enrollment), session=None
        )

    if enrollment.stripe_session_id:
        reusable = _checkout_session_reuse_or_expire(
            enrollment=enrollment,
            amount=course.price,
            success_url=success_url,
            cancel_url=cancel_url,
        )
        if reusable is not None:
            return CheckoutStart(enrollment=enrollment, session=reusable)

    metadata = _payment_metadata(enrollment=enrollment, course=course)
    expires_at = _checkout_session_expires_at(now=time.time())
    session = stripe_gateway.checkout_session_create(
        amount=course.price,
        product_name=course.title,
        product_description=course.description,
        success_url=success_url,
        cancel_url=cancel_url,
        client_reference_id=student.clerk_user_id,
        customer_email=student.email or None,
        metadata=metadata,
        expires_at=expires_at,
        # The same request for the same enrollment state gets the same session
        # back (a double click, a retried request); a new attempt gets a new one.
        idempotency_key=_idempotency_key(
            "checkout",
            enrollment.pk,
            enrollment.stripe_session_id or "",
            metadata,
            course.price,
            _currency(),
            course.title,
            course.description,
            success_url,
            cancel_url,
            student.email,
            expires_at,
        ),
    )
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == Enrollment.Status.PAID:
            raise AlreadyEnrolled
        displaced = locked.stripe_session_id
        if displaced in (enrollment.stripe_session_id, session.id):
            displaced = None
        locked.stripe_session_id = session.id
        locked.save(update_fields=["stripe_session_id", "updated_at"])
        # The previous session's expiry event may have come in meanwhile.
        locked.reopen()
    if displaced is not None:
        # A concurrent attempt stored its own session after this one read the
        # row: it is replaced, so it must not stay payable either.
        _checkout_session_expire_quietly(displaced)
    return CheckoutStart(enrollment=locked, session=session)


def payment_intent_start(*, course: Course, student: ClerkUser) -> PaymentIntentStart:
    """A PaymentIntent (Stripe Elements), its id stored on the pending enrollment."""
    enrollment = _pending_enrollment_get_or_create(course=course, student=student)
    if course.price == _ZERO:
        # Stripe refuses zero-amount PaymentIntents; a free course needs none.
        _free_enrollment_grant(enrollment)
        raise AlreadyEnrolled

    if enrollment.stripe_payment_intent_id:
        previous = _payment_intent_get_or_none(enrollment.stripe_payment_intent_id)
        if previous is not None and previous.is_succeeded:
            payment_intent_fulfill(payment_intent=previous)
            raise AlreadyEnrolled
        if previous is not None and previous.status == "processing":
            raise PaymentInProgress
        if (
            previous is not None
            and previous.is_reusable
            and previous.amount == course.price
            and previous.currency == _currency()
        ):
            return PaymentIntentStart(enrollment=enrollment, payment_intent=previous)

    metadata = _payment_metadata(enrollment=enrollment, course=course)
    payment_intent = stripe_gateway.payment_intent_create(
        amount=course.price,
        description=str(course.title),
        receipt_email=student.email or None,
        metadata=metadata,
        idempotency_key=_idempotency_key(
            "payment-intent",
            enrollment.pk,
            enrollment.stripe_payment_intent_id or "",
            metadata,
            course.price,
            _currency(),
            course.title,
            student.email,
        ),
    )
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == Enrollment.Status.PAID:
            raise AlreadyEnrolled
        locked.stripe_payment_intent_id = payment_intent.id
        locked.save(update_fields=["stripe_payment_intent_id", "updated_at"])
    return PaymentIntentStart(enrollment=locked, payment_intent=payment_intent)


def checkout_verify(*, session_id: str, clerk_user_id: str) -> PaymentVerification:
    """The student's return from Checkout: ask Stripe, fulfil if paid (no webhook)."""
    try:
        session = stripe_gateway.checkout_session_get(session_id)
    except stripe_gateway.PaymentObjectNotFound as exc:
        raise PaymentNotFound from exc
    owner = session.metadata.get("clerk_user_id") or session.client_reference_id
    if owner != clerk_user_id:
        raise PaymentNotFound
    enrollment = checkout_fulfill(session=session)
    if enrollment is not None and enrollment.status == Enrollment.Status.PAID:
        return PaymentVerification(
            status="paid", payment_status=session.payment_status, enrollment=enrollment
        )
    if enrollment is not None and enrollment.status == Enrollment.Status.REFUNDED:
        return PaymentVerification(
            status="refunded", payment_status=session.payment_status, enrollment=None
        )
    return PaymentVerification(
        status="pending", payment_status=session.payment_status, enrollment=None
    )


def _pending_enrollment_get_or_create(
    *, course: Course, student: ClerkUser
) -> Enrollment:
    enrollment, _created = Enrollment.objects.get_or_create(
        course=course,
        clerk_user_id=student.clerk_user_id,
        defaults={
            "student_email": student.email,
            "student_name": student.full_name[:200],
            "price_paid": course.price,
        },
    )
    if enrollment.status == Enrollment.Status.PAID:
        raise AlreadyEnrolled
    if enrollment.status == Enrollment.Status.REFUNDED:
        raise EnrollmentRefunded
    enrollment.reopen()  # a failed or expired attempt becomes pending again
    return enrollment


def _free_enrollment_grant(enrollment: Enrollment) -> Enrollment:
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        locked.mark_as_paid(price_paid=_ZERO)
    return locked


def _checkout_session_reuse_or_expire(
    *, enrollment: Enrollment, amount: Decimal, success_url: str, cancel_url: str
) -> CheckoutSession | None:
    """The enrollment's last session if it is still open for the same purchase;
    otherwise None, once that session can no longer be paid.

    Handing it out again rather than creating another keeps one payable
    session per enrollment; an open one for another purchase (another price,
    other redirect URLs) is expired at Stripe before a new one exists. A
    session found paid is fulfilled on the spot; one whose payment is still
    clearing blocks a new attempt.
    """
    try:
        previous = stripe_gateway.checkout_session_get(enrollment.stripe_session_id)
    except stripe_gateway.PaymentObjectNotFound:
        return None
    _refuse_if_completed(previous)
    if previous.status != "open":
        return None
    is_same_purchase = (
        previous.amount_total == amount
        and previous.currency == _currency()
        and previous.success_url == success_url
        and previous.cancel_url == cancel_url
        and (
            previous.expires_at is None
            or previous.expires_at - time.time() >= _REUSE_MIN_REMAINING_SECONDS
        )
    )
    if is_same_purchase:
        return previous
    try:
        stripe_gateway.checkout_session_expire(previous.id)
    except stripe_gateway.PaymentObjectNotFound:
        return None
    except stripe_gateway.PaymentProviderError:
        # Stripe refuses to expire a session that is no longer open: it may
        # have been paid since it was read. Only a closed one lets us go on.
        latest = stripe_gateway.checkout_session_get(previous.id)
        _refuse_if_completed(latest)
        if latest.status == "open":
            raise
    logger.info(
        "Checkout Session %s of enrollment %s expired for a new one",
        previous.id,
        enrollment.pk,
    )
    return None


def _refuse_if_completed(session: CheckoutSession) -> None:
    if session.status != "complete":
        return
    if session.is_paid:
        checkout_fulfill(session=session)
        raise AlreadyEnrolled
    # Completed but unpaid: a bank debit is clearing; a second session could
    # be paid too.
    raise PaymentInProgress


def _checkout_session_expire_quietly(session_id: str) -> None:
    try:
        stripe_gateway.checkout_session_expire(session_id)
    except (stripe_gateway.PaymentProviderError, stripe_gateway.PaymentsNotConfigured):
        # Already closed (paid or expired), or Stripe unreachable: if it is
        # paid after all, the second payment is refunded when it is reported.
        logger.warning("Replaced Checkout Session %s could not be expired", session_id)


def _checkout_session_expires_at(*, now: float) -> int:
    """now + STRIPE_CHECKOUT_EXPIRES_MINUTES, rounded down to the step, and always
    inside Stripe's 30 minutes to 24 hours, whatever the rounding and the clocks."""
    lifetime = settings.STRIPE_CHECKOUT_EXPIRES_MINUTES * 60
    lifetime = max(
        lifetime,
        _STRIPE_EXPIRES_MIN_SECONDS
        + _EXPIRES_AT_STEP_SECONDS
        + _EXPIRES_AT_MARGIN_SECONDS,
    )
    lifetime = min(lifetime, _STRIPE_EXPIRES_MAX_SECONDS - _EXPIRES_AT_MARGIN_SECONDS)
    target = int(now) + lifetime
    return target - target % _EXPIRES_AT_STEP_SECONDS


def _payment_intent_get_or_none(payment_intent_id: str) -> PaymentIntent | None:
    try:
        return stripe_gateway.payment_intent_get(payment_intent_id)
    except stripe_gateway.PaymentObjectNotFound:
        return None


def _payment_metadata(*, enrollment: Enrollment, course: Course) -> dict[str, str]:
    return {
        "course_id": str(course.pk),
        "course_slug": course.slug,
        "clerk_user_id": enrollment.clerk_user_id,
        "enrollment_id": str(enrollment.pk),
    }


def _idempotency_key(kind: str, enrollment_id: int, *parts: object) -> str:
    """Same enrollment, same previous attempt and same parameters: same key.

    Stripe then answers a repeated request (a double click, a retry after a
    timeout) with the object it already created, and refuses nothing, since
    any change of parameters also changes the key.
    """
    text = "|".join(str(part) for part in (enrollment_id, *parts))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{kind}-{enrollment_id}-{digest[:40]}"


def _currency() -> str:
    return settings.STRIPE_CURRENCY
