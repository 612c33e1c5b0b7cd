"""Sections, lessons and progress: what the database itself refuses."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from courses.models import Lesson, LessonProgress, Section
from courses.tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
    SectionFactory,
)

pytestmark = pytest.mark.django_db


def _refused(update) -> bool:
    """Whether the database refuses `update`, deferred constraints included."""
    try:
        with transaction.atomic():
            update()
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except IntegrityError:
        return True
    return False


def test_a_lesson_takes_its_course_from_its_section():
    section = SectionFactory()

    lesson = LessonFactory(section=section)

    assert lesson.course_id == section.course_id


def test_moving_a_lesson_to_another_courses_section_moves_its_course():
    lesson = LessonFactory()
    elsewhere = SectionFactory()

    lesson.section = elsewhere
    lesson.save(update_fields=["section"])

    lesson.refresh_from_db()
    assert lesson.course_id == elsewhere.course_id


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (Section, "position"),
        (Lesson, "position"),
        (Lesson, "duration_seconds"),
    ],
)
def test_negative_positions_and_durations_are_refused(model, field):
    lesson = LessonFactory()
    row = lesson if model is Lesson else lesson.section

    assert _refused(lambda: model.objects.filter(pk=row.pk).update(**{field: -1}))


def test_an_unknown_kind_is_refused():
    lesson = LessonFactory()

    assert _refused(lambda: Lesson.objects.filter(pk=lesson.pk).update(kind="quiz"))


def test_slugs_are_unique_per_course_not_across_courses():
    lesson = LessonFactory(slug="welcome")
    other_section = SectionFactory(course=lesson.course)

    LessonFactory(slug="welcome")  # another course: fine

    assert _refused(lambda: LessonFactory(section=other_section, slug="welcome"))


def test_one_progress_row_per_enrollment_and_lesson():
    progress = LessonProgressFactory()

    assert _refused(
        lambda: LessonProgress.objects.create(
            enrollment=progress.enrollment, lesson=progress.lesson
        )
    )


def test_clean_reports_a_slug_taken_in_the_course():
    taken = LessonFactory(slug="intro")
    section = SectionFactory(course=taken.course)

    lesson = Lesson(section=section, title="Intro again", slug="intro")

    with pytest.raises(ValidationError) as raised:
        lesson.full_clean()
    assert "slug" in raised.value.message_dict


def test_deleting_a_course_deletes_its_sections_lessons_and_progress():
    progress = LessonProgressFactory()
    course = progress.lesson.course

    course.delete()

    assert not Section.objects.exists()
    assert not Lesson.objects.exists()
    assert not LessonProgress.objects.exists()


@pytest.mark.postgres_only
def test_the_database_keeps_a_lessons_course_equal_to_its_sections():
    lesson = LessonFactory()
    other = CourseFactory()

    assert _refused(
        lambda: Lesson.objects.filter(pk=lesson.pk).update(course_id=other.pk)
    )


@pytest.mark.postgres_only
def test_moving_a_section_moves_its_lessons_course():
    lesson = LessonFactory()
    other = CourseFactory()

    Section.objects.filter(pk=lesson.section_id).update(course=other)

    lesson.refresh_from_db()
    assert lesson.course_id == other.pk


def test_a_completed_at_of_an_enrollment_is_empty_at_first():
    assert EnrollmentFactory(paid=True).completed_at is None
