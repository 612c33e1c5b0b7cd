"""Marking lessons complete and incomplete: idempotent, safe to race.

Both lock the student's paid enrollment row first, so concurrent requests of
one student run one after the other, a refund that commits meanwhile is seen
(no progress is written after access ended), and `Enrollment.completed_at`
is decided on counts no other request is changing.

`completed_at` is set when a complete leaves every published lesson of the
course completed, and only then (a lesson unpublished later does not set
it); it is cleared when the student marks a lesson incomplete. Lessons added
after it was set leave it as it is: the student did finish the course as it
was, and the progress's percent shows what is new.
"""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from courses.exceptions import EnrollmentRequired
from courses.models import Enrollment, Lesson, LessonProgress
from courses.selectors.learning import Progress, enrollment_progress


@dataclass(frozen=True)
class LessonCompletion:
    lesson_id: int
    completed_at: datetime.datetime
    progress: Progress


def _paid_enrollment_locked(*, lesson: Lesson, clerk_user_id: str) -> Enrollment:
    enrollment = (
        Enrollment.objects.select_for_update()
        .filter(
            course_id=lesson.course_id,
            clerk_user_id=clerk_user_id,
            status=Enrollment.Status.PAID,
        )
        .first()
    )
    if enrollment is None:
        raise EnrollmentRequired
    return enrollment


def lesson_complete(*, lesson: Lesson, clerk_user_id: str) -> LessonCompletion:
    """Record that the student completed `lesson`; repeating it changes nothing.

    Raises EnrollmentRequired without a paid enrollment in the lesson's course.
    """
    with transaction.atomic():
        enrollment = _paid_enrollment_locked(lesson=lesson, clerk_user_id=clerk_user_id)
        # The row lock already serialises this student's requests; the unique
        # constraint is what makes a second row impossible on any path.
        done, _ = LessonProgress.objects.get_or_create(
            enrollment=enrollment, lesson=lesson
        )
        progress = enrollment_progress(enrollment=enrollment)
        finished = 0 < progress.total_lessons <= progress.completed_lessons
        if finished and enrollment.completed_at is None:
            enrollment.completed_at = timezone.now()
            enrollment.save(update_fields=["completed_at"])
            progress = Progress(
                completed_lessons=progress.completed_lessons,
                total_lessons=progress.total_lessons,
                next_lesson_id=progress.next_lesson_id,
                completed_at=enrollment.completed_at,
            )
    return LessonCompletion(
        lesson_id=lesson.pk, completed_at=done.completed_at, progress=progress
    )


def lesson_uncomplete(*, lesson: Lesson, clerk_user_id: str) -> None:
    """Forget that the student completed `lesson`; repeating it changes nothing.

    Raises EnrollmentRequired without a paid enrollment in the lesson's course.
    """
    with transaction.atomic():
        enrollment = _paid_enrollment_locked(lesson=lesson, clerk_user_id=clerk_user_id)
        deleted, _ = LessonProgress.objects.filter(
            enrollment=enrollment, lesson=lesson
        ).delete()
        if deleted and enrollment.completed_at is not None:
            enrollment.completed_at = None
            enrollment.save(update_fields=["completed_at"])
