"""Starting a PaymentIntent (Stripe Elements) for a pending enrollment.

The pending row is written before Stripe is called; the PaymentIntent names
the student's Stripe Customer, and its pending order is written as soon as
Stripe has answered. A PaymentIntent still waiting for the student is handed
out again rather than a second one made.
"""

from dataclasses import dataclass

from django.db import transaction

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Course, Enrollment
from courses.services.payments.attempts import (
    ZERO,
    attempt_key,
    currency,
    free_enrollment_grant,
    payment_metadata,
    pending_enrollment_get_or_create,
    with_customer,
)
from courses.services.payments.errors import AlreadyEnrolled, PaymentInProgress
from courses.services.payments.fulfilment import payment_intent_fulfill
from courses.services.payments.orders import order_pending_record
from courses.stripe_gateway import PaymentIntent


@dataclass(frozen=True)
class PaymentIntentStart:
    enrollment: Enrollment
    payment_intent: PaymentIntent


def payment_intent_start(*, course: Course, student: ClerkUser) -> PaymentIntentStart:
    """A PaymentIntent (Stripe Elements), its id stored on the pending enrollment."""
    enrollment = pending_enrollment_get_or_create(course=course, student=student)
    if course.price == ZERO:
        # Stripe refuses zero-amount PaymentIntents; a free course needs none.
        free_enrollment_grant(enrollment)
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
            and previous.currency == currency()
        ):
            return PaymentIntentStart(enrollment=enrollment, payment_intent=previous)

    metadata = payment_metadata(enrollment=enrollment, course=course)

    def create(customer_id: str) -> PaymentIntent:
        return stripe_gateway.payment_intent_create(
            amount=course.price,
            description=str(course.title),
            receipt_email=student.email or None,
            customer_id=customer_id,
            metadata=metadata,
            idempotency_key=attempt_key(
                "payment-intent",
                enrollment.pk,
                enrollment.stripe_payment_intent_id or "",
                metadata,
                course.price,
                currency(),
                course.title,
                student.email,
                customer_id,
            ),
        )

    payment_intent = with_customer(student, create)
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == Enrollment.Status.PAID:
            raise AlreadyEnrolled
        locked.stripe_payment_intent_id = payment_intent.id
        locked.save(update_fields=["stripe_payment_intent_id", "updated_at"])
        order_pending_record(
            enrollment=locked,
            amount=course.price,
            currency=currency(),
            payment_intent_id=payment_intent.id,
        )
    return PaymentIntentStart(enrollment=locked, payment_intent=payment_intent)


def _payment_intent_get_or_none(payment_intent_id: str) -> PaymentIntent | None:
    try:
        # With its charge: if it succeeded, the order gets its receipt at once.
        return stripe_gateway.payment_intent_get(payment_intent_id, with_charge=True)
    except stripe_gateway.PaymentObjectNotFound:
        return None
