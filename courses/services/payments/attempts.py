"""What every payment attempt starts from: the student's pending enrollment, their
Stripe Customer, the metadata that names the purchase, and idempotency keys."""

import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.db import transaction

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Course, Enrollment
from courses.services.payments.customers import (
    customer_for_student,
    customer_forget,
)
from courses.services.payments.errors import (
    AlreadyEnrolled,
    EnrollmentRefunded,
    PaymentDisputed,
)

ZERO = Decimal("0.00")


def pending_enrollment_get_or_create(
    *, course: Course, student: ClerkUser
) -> Enrollment:
    """The student's enrollment in the course, pending (a failed or expired one
    made pending again); raises when access was paid, refunded or disputed."""
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
    if enrollment.status == Enrollment.Status.DISPUTED:
        raise PaymentDisputed
    enrollment.reopen()  # a failed or expired attempt becomes pending again
    return enrollment


def free_enrollment_grant(enrollment: Enrollment) -> Enrollment:
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        locked.mark_as_paid(price_paid=ZERO)
    return locked


_T = TypeVar("_T")


def with_customer(student: ClerkUser, create: Callable[[str], _T]) -> _T:
    """create(customer_id) with the student's Stripe Customer, made at their
    first payment; once more with a new Customer if Stripe no longer knows the
    stored one (deleted in the dashboard)."""
    customer_id = customer_for_student(student=student)
    try:
        return create(customer_id)
    except stripe_gateway.PaymentProviderError as exc:
        if exc.code != "resource_missing":
            raise
        customer_forget(clerk_user_id=student.clerk_user_id, customer_id=customer_id)
    return create(customer_for_student(student=student, replacing=customer_id))


def payment_metadata(*, enrollment: Enrollment, course: Course) -> dict[str, str]:
    return {
        "course_id": str(course.pk),
        "course_slug": course.slug,
        "clerk_user_id": enrollment.clerk_user_id,
        "enrollment_id": str(enrollment.pk),
    }


def attempt_key(kind: str, enrollment_id: int, *parts: object) -> str:
    """Same enrollment, same previous attempt and same parameters: same key.

    Stripe then answers a repeated request (a double click, a retry after a
    timeout) with the object it already created, and refuses nothing, since
    any change of parameters also changes the key.
    """
    text = "|".join(str(part) for part in (enrollment_id, *parts))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{kind}-{enrollment_id}-{digest[:40]}"


def currency() -> str:
    return settings.STRIPE_CURRENCY
