"""The models, one module per area; every model is importable from here."""

from courses.models.catalog import Course, CourseQuerySet, paid_enrollment_count
from courses.models.learning import (
    Lesson,
    LessonProgress,
    LessonQuerySet,
    Section,
    published_lesson_count,
    published_lesson_seconds,
)
from courses.models.orders import Order, OrderQuerySet
from courses.models.payments import (
    Enrollment,
    EnrollmentQuerySet,
    PaymentReview,
    StripeEvent,
)
from courses.models.staff_access import StaffSignInEvent
from courses.models.students import ClerkWebhookDelivery, Student

__all__ = [
    "ClerkWebhookDelivery",
    "Course",
    "CourseQuerySet",
    "Enrollment",
    "EnrollmentQuerySet",
    "Lesson",
    "LessonProgress",
    "LessonQuerySet",
    "Order",
    "OrderQuerySet",
    "PaymentReview",
    "Section",
    "StaffSignInEvent",
    "StripeEvent",
    "Student",
    "paid_enrollment_count",
    "published_lesson_count",
    "published_lesson_seconds",
]
