"""Students' reads: a student by Clerk id, and everything held about one
(the data export), each in a fixed number of queries."""

from dataclasses import dataclass

from django.db import models

from courses.models import Enrollment, LessonProgress, Order, PaymentReview, Student


def student_get(*, clerk_user_id: str) -> Student | None:
    return Student.objects.filter(clerk_user_id=clerk_user_id).first()


@dataclass(frozen=True)
class StudentData:
    """What the platform holds about one student: the export's content."""

    clerk_user_id: str
    student: Student | None
    enrollments: list[Enrollment]


def student_data_for_export(*, clerk_user_id: str) -> StudentData:
    """The student, and every enrollment in their name (any status) with its
    course, orders, lesson progress and payments kept for review. Five
    queries; only rows of this Clerk id."""
    enrollments = (
        Enrollment.objects.filter(clerk_user_id=clerk_user_id)
        .select_related("course")
        .prefetch_related(
            models.Prefetch(
                "lesson_progress",
                queryset=LessonProgress.objects.select_related("lesson").order_by(
                    "completed_at", "id"
                ),
            ),
            models.Prefetch(
                "payment_reviews",
                queryset=PaymentReview.objects.order_by("created_at", "id"),
            ),
            models.Prefetch(
                "orders", queryset=Order.objects.order_by("created_at", "id")
            ),
        )
        .order_by("enrolled_at", "id")
    )
    return StudentData(
        clerk_user_id=clerk_user_id,
        student=student_get(clerk_user_id=clerk_user_id),
        enrollments=list(enrollments),
    )
