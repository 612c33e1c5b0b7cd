"""The learning side's reads: a student's enrollments with their progress, a
course's outline, a lesson and who may open it.

Each costs a fixed number of queries whatever the number of enrollments,
sections and lessons: counts and "next lesson" are correlated subqueries on
the enrollment's own row.
"""

import datetime
import functools
from dataclasses import dataclass

from django.db import models

from courses.models import (
    Course,
    Enrollment,
    EnrollmentQuerySet,
    Lesson,
    LessonProgress,
    paid_enrollment_count,
    published_lesson_count,
    published_lesson_seconds,
)

# --- Progress ------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How far a student is in a course; unpublished lessons do not count."""

    completed_lessons: int
    total_lessons: int
    next_lesson_id: int | None
    completed_at: datetime.datetime | None

    @property
    def percent(self) -> int:
        """0 to 100, rounded down (99 until every lesson is done)."""
        if self.total_lessons <= 0:
            return 0
        return min(100, self.completed_lessons * 100 // self.total_lessons)


def _completed_published_count(enrollment: models.OuterRef) -> models.Func:
    done = (
        LessonProgress.objects.filter(enrollment=enrollment, lesson__is_published=True)
        .order_by()
        .values("id")
    )
    return models.Func(
        models.Subquery(done),
        template="(SELECT COUNT(*) FROM %(expressions)s AS done)",
        output_field=models.IntegerField(),
    )


def _next_lesson_id() -> models.Subquery:
    """The first published lesson of the enrollment's course, in outline order,
    that the enrollment has not completed."""
    completed = LessonProgress.objects.filter(
        # The enrollment is two levels out: enrollment > lesson > progress.
        enrollment=models.OuterRef(models.OuterRef("pk")),
        lesson=models.OuterRef("pk"),
    )
    remaining = (
        Lesson.objects.filter(course=models.OuterRef("course_id"), is_published=True)
        .filter(~models.Exists(completed))
        .in_outline_order()
        .values("id")[:1]
    )
    return models.Subquery(remaining, output_field=models.BigIntegerField())


def _with_progress(enrollments: models.QuerySet) -> models.QuerySet:
    return enrollments.annotate(
        course_published_lesson_count=published_lesson_count(
            models.OuterRef("course_id")
        ),
        course_published_lesson_seconds=published_lesson_seconds(
            models.OuterRef("course_id")
        ),
        progress_completed_lessons=_completed_published_count(models.OuterRef("pk")),
        progress_next_lesson_id=_next_lesson_id(),
    )


def enrollment_progress(*, enrollment: Enrollment) -> Progress:
    """The enrollment's progress: from the annotations of enrollment_list_for_student,
    or else one query."""
    if not hasattr(enrollment, "progress_completed_lessons"):
        row = (
            _with_progress(Enrollment.objects.filter(pk=enrollment.pk))
            .values(
                "course_published_lesson_count",
                "progress_completed_lessons",
                "progress_next_lesson_id",
                "completed_at",
            )
            .get()
        )
        for name, value in row.items():
            setattr(enrollment, name, value)
    return Progress(
        completed_lessons=enrollment.progress_completed_lessons,
        total_lessons=enrollment.course_published_lesson_count,
        next_lesson_id=enrollment.progress_next_lesson_id,
        completed_at=enrollment.completed_at,
    )


# --- Enrollments ---------------------------------------------------------------


def enrollment_list_for_student(
    *, clerk_user_id: str, paid_only: bool = False
) -> EnrollmentQuerySet:
    """The student's own enrollments, newest first, with their course in the same row.

    The course's paid enrollment count and published lesson totals, and the
    student's progress, are annotated on the enrollment row
    (`course_paid_enrollment_count`, `course_published_lesson_*`,
    `progress_*`), so that neither the nested course nor the progress needs a
    query.
    """
    enrollments = _annotated_enrollments().for_student(clerk_user_id)
    if paid_only:
        enrollments = enrollments.paid()
    return enrollments


@functools.cache
def _annotated_enrollments() -> EnrollmentQuerySet:
    """Every enrollment with its course and annotations: built once per process
    and filtered (cloned) for each request, never evaluated itself. Building
    these five correlated subqueries costs Django more CPU than PostgreSQL
    takes to run them (courses/selectors/catalog.py does the same)."""
    enrollments = Enrollment.objects.select_related("course").annotate(
        course_paid_enrollment_count=paid_enrollment_count(models.OuterRef("course_id"))
    )
    return _with_progress(enrollments)


def enrollment_get_for_student(*, clerk_user_id: str, pk: int) -> Enrollment:
    """One of the student's own enrollments; raises Enrollment.DoesNotExist otherwise.

    Someone else's enrollment is indistinguishable from a missing one.
    """
    return enrollment_list_for_student(clerk_user_id=clerk_user_id).get(pk=pk)


# --- Outline -------------------------------------------------------------------


@dataclass(frozen=True)
class OutlineLesson:
    id: int
    slug: str
    title: str
    kind: str
    duration_seconds: int
    is_preview: bool
    is_completed: bool


@dataclass(frozen=True)
class OutlineSection:
    id: int
    title: str
    position: int
    lessons: list[OutlineLesson]


@dataclass(frozen=True)
class CourseOutline:
    course: int
    sections: list[OutlineSection]

    @property
    def lesson_count(self) -> int:
        return sum(len(section.lessons) for section in self.sections)

    @property
    def duration_seconds(self) -> int:
        return sum(
            lesson.duration_seconds
            for section in self.sections
            for lesson in section.lessons
        )


def course_outline_get(*, course_id: int, clerk_user_id: str | None) -> CourseOutline:
    """The published lessons of an active course, by section, in outline order.

    Raises Course.DoesNotExist for a missing or inactive course. A section
    without published lessons is left out. Anonymous: at most 2 queries, and
    an answer that depends on the course only; signed in: at most 3.
    """
    rows = list(
        Lesson.objects.filter(
            course_id=course_id, course__is_active=True, is_published=True
        )
        .in_outline_order()
        .values_list(
            "id",
            "slug",
            "title",
            "kind",
            "duration_seconds",
            "is_preview",
            "section_id",
            "section__title",
            "section__position",
        )
    )
    if not rows and not Course.objects.active().filter(pk=course_id).exists():
        raise Course.DoesNotExist
    completed: set[int] = set()
    if clerk_user_id is not None and rows:
        completed = set(
            LessonProgress.objects.filter(
                enrollment__course_id=course_id,
                enrollment__clerk_user_id=clerk_user_id,
            ).values_list("lesson_id", flat=True)
        )
    sections: list[OutlineSection] = []
    for lesson_id, slug, title, kind, seconds, preview, section_id, *section in rows:
        if not sections or sections[-1].id != section_id:
            section_title, position = section
            sections.append(OutlineSection(section_id, section_title, position, []))
        sections[-1].lessons.append(
            OutlineLesson(
                id=lesson_id,
                slug=slug,
                title=title,
                kind=kind,
                duration_seconds=seconds,
                is_preview=preview,
                is_completed=lesson_id in completed,
            )
        )
    return CourseOutline(course=course_id, sections=sections)


# --- Lessons -------------------------------------------------------------------


@dataclass(frozen=True)
class LessonAccess:
    """Whether the caller may open a lesson, and what they did with it."""

    is_open: bool
    is_completed: bool


def lesson_get_published(*, pk: int) -> Lesson:
    """A published lesson of an active course; raises Lesson.DoesNotExist otherwise."""
    return Lesson.objects.filter(is_published=True, course__is_active=True).get(pk=pk)


def lesson_access_for(*, lesson: Lesson, clerk_user_id: str | None) -> LessonAccess:
    """Anyone may open a preview; any other lesson needs a paid enrollment.

    Read on every request (at most one query), so a refund closes the lessons
    at once.
    """
    if clerk_user_id is None:
        return LessonAccess(is_open=lesson.is_preview, is_completed=False)
    completed = LessonProgress.objects.filter(
        enrollment=models.OuterRef("pk"), lesson_id=lesson.pk
    )
    row = (
        Enrollment.objects.filter(
            course_id=lesson.course_id, clerk_user_id=clerk_user_id
        )
        .annotate(has_completed=models.Exists(completed))
        .values("status", "has_completed")[:1]
    )
    found = row[0] if row else None
    is_paid = found is not None and found["status"] == Enrollment.Status.PAID
    return LessonAccess(
        is_open=lesson.is_preview or is_paid,
        is_completed=found is not None and found["has_completed"],
    )


def lesson_neighbours(*, lesson: Lesson) -> tuple[int | None, int | None]:
    """The published lessons before and after `lesson` in its course's outline."""
    ids = list(
        Lesson.objects.filter(course_id=lesson.course_id)
        .published()
        .in_outline_order()
        .values_list("id", flat=True)
    )
    try:
        index = ids.index(lesson.pk)
    except ValueError:  # unpublished meanwhile
        return None, None
    previous_id = ids[index - 1] if index > 0 else None
    next_id = ids[index + 1] if index + 1 < len(ids) else None
    return previous_id, next_id
