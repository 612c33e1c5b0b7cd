"""Starting a payment: a Checkout Session or a PaymentIntent for a pending enrollment,
and the student's return from Checkout.

The pending row is written before Stripe is called, and Stripe calls happen
outside row locks.
"""

import hashlib
import logging
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
        reusable = _checkout_session_reusable(
            enrollment=enrollment,
            amount=course.price,
            success_url=success_url,
            cancel_url=cancel_url,
        )
        if reusable is not None:
            return CheckoutStart(enrollment=enrollment, session=reusable)

    metadata = _payment_metadata(enrollment=enrollment, course=course)
    session = stripe_gateway.checkout_session_create(
        amount=course.price,
        product_name=course.title,
        product_description=course.description,
        success_url=success_url,
        cancel_url=cancel_url,
        client_reference_id=student.clerk_user_id,
        customer_email=student.email or None,
        metadata=metadata,
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
        ),
    )
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == Enrollment.Status.PAID:
            raise AlreadyEnrolled
        locked.stripe_session_id = session.id
        locked.save(update_fields=["stripe_session_id", "updated_at"])
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


def _checkout_session_reusable(
    *, enrollment: Enrollment, amount: Decimal, success_url: str, cancel_url: str
) -> CheckoutSession | None:
    """The enrollment's last session if it is still open for the same purchase.

    Handing it out again rather than creating another keeps one payable
    session per enrollment. A session found paid is fulfilled on the spot; one
    whose payment is still clearing blocks a new attempt.
    """
    try:
        previous = stripe_gateway.checkout_session_get(enrollment.stripe_session_id)
    except stripe_gateway.PaymentObjectNotFound:
        return None
    if previous.status == "complete":
        if previous.is_paid:
            checkout_fulfill(session=previous)
            raise AlreadyEnrolled
        # Completed but unpaid: a bank debit is clearing; a second session
        # could be paid too.
        raise PaymentInProgress
    is_same_purchase = (
        previous.status == "open"
        and previous.amount_total == amount
        and previous.currency == _currency()
        and previous.success_url == success_url
        and previous.cancel_url == cancel_url
    )
    return previous if is_same_purchase else None


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
