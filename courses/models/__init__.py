"""The models, one module per area; every model is importable from here."""

from courses.models.catalog import Course, CourseQuerySet, paid_enrollment_count
from courses.models.payments import (
    Enrollment,
    EnrollmentQuerySet,
    PaymentReview,
    StripeEvent,
)

__all__ = [
    "Course",
    "CourseQuerySet",
    "Enrollment",
    "EnrollmentQuerySet",
    "PaymentReview",
    "StripeEvent",
    "paid_enrollment_count",
]
