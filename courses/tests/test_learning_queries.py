"""Query budgets of the learning endpoints: fixed, whatever the number of
sections, lessons and enrollments (CI asserts them on PostgreSQL too)."""

import pytest

from courses.authentication import ClerkUser
from courses.models import Lesson, LessonProgress
from courses.tests.factories import CourseFactory, EnrollmentFactory, SectionFactory

pytestmark = pytest.mark.django_db

STUDENT = ClerkUser(clerk_user_id="user_student", email="student@example.com")


def _course_with_lessons(lessons: int, *, sections: int = 3):
    course = CourseFactory()
    made = [SectionFactory(course=course, position=i) for i in range(sections)]
    Lesson.objects.bulk_create(
        Lesson(
            section=made[i % sections],
            course=course,
            title=f"Lesson {i}",
            slug=f"lesson-{i}",
            position=i,
            body="Some **Markdown**.",
            duration_seconds=60,
            is_preview=i == 0,
            is_published=i % 10 != 9,
        )
        for i in range(lessons)
    )
    return course


def _enroll_and_complete(course, count: int):
    enrollment = EnrollmentFactory(
        course=course, clerk_user_id=STUDENT.clerk_user_id, paid=True
    )
    LessonProgress.objects.bulk_create(
        LessonProgress(enrollment=enrollment, lesson=lesson)
        for lesson in course.lessons.order_by("id")[:count]
    )
    return enrollment


@pytest.mark.parametrize("lessons", [3, 300])
def test_outline_costs_at_most_two_queries_anonymous_and_three_signed_in(
    api_client, django_assert_max_num_queries, lessons
):
    course = _course_with_lessons(lessons)
    _enroll_and_complete(course, lessons // 2)

    with django_assert_max_num_queries(2):
        anonymous = api_client.get(f"/api/courses/{course.pk}/outline/")
    api_client.force_authenticate(user=STUDENT)
    with django_assert_max_num_queries(3):
        signed_in = api_client.get(f"/api/courses/{course.pk}/outline/")

    published = lessons - lessons // 10
    assert anonymous.json()["lesson_count"] == published
    assert signed_in.json()["lesson_count"] == published
    assert any(
        lesson["is_completed"]
        for section in signed_in.json()["sections"]
        for lesson in section["lessons"]
    )


def test_outline_of_an_empty_or_missing_course_stays_within_budget(
    api_client, django_assert_max_num_queries
):
    empty = CourseFactory()

    with django_assert_max_num_queries(2):
        found = api_client.get(f"/api/courses/{empty.pk}/outline/")
    with django_assert_max_num_queries(2):
        missing = api_client.get("/api/courses/999999/outline/")

    assert (found.status_code, missing.status_code) == (200, 404)


@pytest.mark.parametrize("lessons", [3, 300])
def test_lesson_detail_costs_at_most_four_queries_signed_in(
    api_client, django_assert_max_num_queries, lessons
):
    course = _course_with_lessons(lessons)
    _enroll_and_complete(course, 2)
    lesson = course.lessons.order_by("id")[1]
    preview = course.lessons.get(is_preview=True)

    with django_assert_max_num_queries(2):
        anonymous = api_client.get(f"/api/lessons/{preview.pk}/")
    api_client.force_authenticate(user=STUDENT)
    with django_assert_max_num_queries(4):
        signed_in = api_client.get(f"/api/lessons/{lesson.pk}/")

    assert anonymous.status_code == signed_in.status_code == 200
    assert signed_in.json()["is_completed"] is True


@pytest.mark.parametrize(("courses", "lessons"), [(1, 3), (12, 40)])
def test_my_courses_with_progress_costs_at_most_three_queries(
    api_client, django_assert_max_num_queries, courses, lessons
):
    for _ in range(courses):
        _enroll_and_complete(_course_with_lessons(lessons), lessons // 3)
    api_client.force_authenticate(user=STUDENT)

    with django_assert_max_num_queries(3):
        mine = api_client.get("/api/my-courses/")
    with django_assert_max_num_queries(3):
        listed = api_client.get("/api/enrollments/?page_size=100")

    assert len(mine.json()) == courses
    assert len(listed.json()["results"]) == courses
    assert {row["progress"]["completed_lessons"] for row in mine.json()} == {
        len([i for i in range(lessons // 3) if i % 10 != 9])
    }


@pytest.mark.parametrize("lessons", [0, 300])
def test_course_detail_with_lesson_totals_is_still_one_query(
    api_client, django_assert_num_queries, lessons
):
    course = _course_with_lessons(lessons)

    with django_assert_num_queries(1):
        response = api_client.get(f"/api/courses/{course.pk}/")

    assert response.json()["lesson_count"] == lessons - lessons // 10
    assert response.json()["duration_seconds"] == 60 * (lessons - lessons // 10)
