"""A student's own enrollments: each read costs one query whatever their number."""

from django.db import models

from courses.models import Enrollment, EnrollmentQuerySet, paid_enrollment_count


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
