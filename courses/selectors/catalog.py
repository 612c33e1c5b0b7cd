"""The public catalog's reads: each one query, whatever the page size."""

from typing import Any

from django.db import models

from courses.authentication import ClerkUser
from courses.models import Course, Enrollment


def caller_clerk_user_id(user: ClerkUser | None) -> str | None:
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
    clerk_user_id = caller_clerk_user_id(user)
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
    """One active course by id or slug; raises Course.DoesNotExist otherwise.

    With its published lessons' count and total duration, in the same query.
    """
    lookup: dict[str, Any] = {}
    if pk is not None:
        lookup["pk"] = pk
    if slug is not None:
        lookup["slug"] = slug
    if not lookup:
        raise Course.DoesNotExist
    return course_list_public(user=user).with_lesson_totals().get(**lookup)
