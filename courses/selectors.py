"""Read-side queries: each returns everything its endpoint shows in one query."""

from typing import Any

from django.db import models

from courses.authentication import ClerkUser
from courses.models import (
    Course,
    Enrollment,
    EnrollmentQuerySet,
    paid_enrollment_count,
)


def _clerk_user_id(user: ClerkUser | None) -> str | None:
    """The caller's Clerk id, or None when anonymous (DRF's UNAUTHENTICATED_USER)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "clerk_user_id", None)


def course_list_public(*, user: ClerkUser | None = None) -> models.QuerySet[Course]:
    """Active courses, newest first, with `paid_enrollment_count` and `is_enrolled`.

    Both are computed by the database for the rows of the page only (correlated
    subqueries), so a page costs one query whatever its size and however many
    enrollments exist.
    """
    # Spelled out rather than left to Meta.ordering: this order is the one
    # course_active_newest_idx walks, and `id` keeps equal dates in order.
    courses = (
        Course.objects.active().with_enrollment_count().order_by("-created_at", "-id")
    )
    clerk_user_id = _clerk_user_id(user)
    if clerk_user_id is None:
        return courses
    paid_by_caller = Enrollment.objects.filter(
        course=models.OuterRef("pk"),
        clerk_user_id=clerk_user_id,
        status=Enrollment.Status.PAID,
    )
    return courses.annotate(is_enrolled=models.Exists(paid_by_caller))


def course_get_public(
    *, user: ClerkUser | None = None, pk: int | None = None, slug: str | None = None
) -> Course:
    """One active course by id or slug; raises Course.DoesNotExist otherwise."""
    lookup: dict[str, Any] = {}
    if pk is not None:
        lookup["pk"] = pk
    if slug is not None:
        lookup["slug"] = slug
    if not lookup:
        raise Course.DoesNotExist
    return course_list_public(user=user).get(**lookup)


def enrollment_list_for_student(
    *, clerk_user_id: str, paid_only: bool = False
) -> EnrollmentQuerySet:
    """The student's own enrollments, newest first, with their course in the same row.

    The course's paid enrollment count is annotated on the enrollment row
    (`course_paid_enrollment_count`) so that the nested course needs no query.
    """
    enrollments = Enrollment.objects.for_student(clerk_user_id)
    if paid_only:
        enrollments = enrollments.paid()
    return enrollments.select_related("course").annotate(
        course_paid_enrollment_count=paid_enrollment_count(models.OuterRef("course_id"))
    )


def enrollment_get_for_student(*, clerk_user_id: str, pk: int) -> Enrollment:
    """One of the student's own enrollments; raises Enrollment.DoesNotExist otherwise.

    Someone else's enrollment is indistinguishable from a missing one.
    """
    return enrollment_list_for_student(clerk_user_id=clerk_user_id).get(pk=pk)
