"""Completing lessons: progress arithmetic, Enrollment.completed_at, and races."""

import threading

import pytest
from django.db import connections

from courses.exceptions import EnrollmentRequired
from courses.models import Enrollment, LessonProgress
from courses.selectors import enrollment_list_for_student, enrollment_progress
from courses.services.learning import lesson_complete, lesson_uncomplete
from courses.tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    SectionFactory,
)

pytestmark = pytest.mark.django_db

STUDENT = "user_student"


@pytest.fixture
def enrollment():
    return EnrollmentFactory(clerk_user_id=STUDENT, paid=True)


def _lessons(course, count, **kwargs):
    section = SectionFactory(course=course)
    return [LessonFactory(section=section, position=i, **kwargs) for i in range(count)]


def _progress(enrollment):
    return enrollment_progress(enrollment=Enrollment.objects.get(pk=enrollment.pk))


@pytest.mark.parametrize(
    ("total", "done", "percent"),
    [(3, 0, 0), (3, 1, 33), (3, 2, 66), (3, 3, 100), (7, 6, 85), (1, 1, 100)],
)
def test_percent_is_rounded_down(enrollment, total, done, percent):
    lessons = _lessons(enrollment.course, total)

    for lesson in lessons[:done]:
        completion = lesson_complete(lesson=lesson, clerk_user_id=STUDENT)

    progress = _progress(enrollment)
    assert progress.completed_lessons == done
    assert progress.total_lessons == total
    assert progress.percent == percent
    if done:
        assert completion.progress.percent == percent


def test_completed_at_is_set_by_the_last_lesson_only(enrollment):
    first, second = _lessons(enrollment.course, 2)

    lesson_complete(lesson=first, clerk_user_id=STUDENT)
    enrollment.refresh_from_db()
    halfway = enrollment.completed_at
    last = lesson_complete(lesson=second, clerk_user_id=STUDENT)
    enrollment.refresh_from_db()

    assert halfway is None
    assert enrollment.completed_at is not None
    assert last.progress.completed_at == enrollment.completed_at
    assert last.progress.next_lesson_id is None


def test_completing_again_keeps_the_first_completed_at(enrollment):
    (only,) = _lessons(enrollment.course, 1)
    first = lesson_complete(lesson=only, clerk_user_id=STUDENT)

    again = lesson_complete(lesson=only, clerk_user_id=STUDENT)

    assert again.completed_at == first.completed_at
    assert again.progress.completed_at == first.progress.completed_at
    assert LessonProgress.objects.count() == 1


def test_marking_a_lesson_incomplete_clears_completed_at(enrollment):
    first, second = _lessons(enrollment.course, 2)
    lesson_complete(lesson=first, clerk_user_id=STUDENT)
    lesson_complete(lesson=second, clerk_user_id=STUDENT)

    lesson_uncomplete(lesson=first, clerk_user_id=STUDENT)
    lesson_uncomplete(lesson=first, clerk_user_id=STUDENT)

    enrollment.refresh_from_db()
    assert enrollment.completed_at is None
    progress = _progress(enrollment)
    assert (progress.completed_lessons, progress.percent) == (1, 50)
    assert progress.next_lesson_id == first.pk


def test_a_lesson_added_later_leaves_completed_at_but_lowers_the_percent(enrollment):
    (only,) = _lessons(enrollment.course, 1)
    lesson_complete(lesson=only, clerk_user_id=STUDENT)

    added = LessonFactory(section=only.section, position=5)

    progress = _progress(enrollment)
    assert progress.completed_at is not None
    assert (progress.completed_lessons, progress.total_lessons) == (1, 2)
    assert progress.percent == 50
    assert progress.next_lesson_id == added.pk


def test_unpublished_lessons_stop_counting(enrollment):
    first, second, third = _lessons(enrollment.course, 3)
    lesson_complete(lesson=first, clerk_user_id=STUDENT)
    lesson_complete(lesson=second, clerk_user_id=STUDENT)

    second.is_published = False
    second.save()

    progress = _progress(enrollment)
    assert (progress.completed_lessons, progress.total_lessons) == (1, 2)
    assert progress.percent == 50
    assert progress.next_lesson_id == third.pk


def test_next_lesson_follows_the_outline_and_skips_unpublished_lessons(enrollment):
    course = enrollment.course
    later = SectionFactory(course=course, position=2)
    earlier = SectionFactory(course=course, position=1)
    done = LessonFactory(section=earlier, position=0)
    LessonFactory(section=earlier, position=1, is_published=False)
    expected = LessonFactory(section=later, position=0)
    LessonFactory(section=later, position=1)
    lesson_complete(lesson=done, clerk_user_id=STUDENT)

    progress = _progress(enrollment)

    assert progress.next_lesson_id == expected.pk


def test_progress_is_one_query_for_any_number_of_enrollments(
    django_assert_num_queries,
):
    for _ in range(6):
        course = CourseFactory()
        lessons = _lessons(course, 4)
        EnrollmentFactory(course=course, clerk_user_id=STUDENT, paid=True)
        lesson_complete(lesson=lessons[0], clerk_user_id=STUDENT)

    with django_assert_num_queries(1):
        rows = list(enrollment_list_for_student(clerk_user_id=STUDENT))
        progress = [enrollment_progress(enrollment=row) for row in rows]

    assert {(p.completed_lessons, p.total_lessons, p.percent) for p in progress} == {
        (1, 4, 25)
    }


@pytest.mark.parametrize("status", ["pending", "failed", "expired", "refunded"])
def test_only_a_paid_enrollment_may_complete(status):
    enrollment = EnrollmentFactory(clerk_user_id=STUDENT, status=status)
    (lesson,) = _lessons(enrollment.course, 1)

    with pytest.raises(EnrollmentRequired):
        lesson_complete(lesson=lesson, clerk_user_id=STUDENT)
    with pytest.raises(EnrollmentRequired):
        lesson_uncomplete(lesson=lesson, clerk_user_id=STUDENT)

    assert not LessonProgress.objects.exists()


def test_another_students_paid_enrollment_grants_nothing(enrollment):
    (lesson,) = _lessons(enrollment.course, 1)

    with pytest.raises(EnrollmentRequired):
        lesson_complete(lesson=lesson, clerk_user_id="user_someone_else")


def test_refunded_enrollment_keeps_its_history(enrollment):
    (lesson,) = _lessons(enrollment.course, 1)
    lesson_complete(lesson=lesson, clerk_user_id=STUDENT)

    enrollment.mark_as_refunded()

    assert LessonProgress.objects.filter(enrollment=enrollment).count() == 1
    with pytest.raises(EnrollmentRequired):
        lesson_uncomplete(lesson=lesson, clerk_user_id=STUDENT)


# --- Races (PostgreSQL: SQLite has one writer and no row locks) ------------------


def _run_at_once(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def run():
        try:
            barrier.wait(timeout=10)
            target()
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_completes_leave_one_row():
    enrollment = EnrollmentFactory(clerk_user_id=STUDENT, paid=True)
    lessons = _lessons(enrollment.course, 2)

    errors = _run_at_once(
        10, lambda: lesson_complete(lesson=lessons[0], clerk_user_id=STUDENT)
    )

    assert errors == []
    assert LessonProgress.objects.filter(lesson=lessons[0]).count() == 1
    enrollment.refresh_from_db()
    assert enrollment.completed_at is None


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_completes_of_the_last_lessons_set_completed_at_once():
    enrollment = EnrollmentFactory(clerk_user_id=STUDENT, paid=True)
    lessons = _lessons(enrollment.course, 6)
    queue = list(lessons) * 2
    lock = threading.Lock()

    def complete_next():
        with lock:
            lesson = queue.pop()
        lesson_complete(lesson=lesson, clerk_user_id=STUDENT)

    errors = _run_at_once(12, complete_next)

    assert errors == []
    assert LessonProgress.objects.count() == 6
    enrollment.refresh_from_db()
    assert enrollment.completed_at is not None
