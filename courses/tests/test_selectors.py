"""Read-side queries: what they return, and that each is a single query."""

import pytest

from courses.authentication import ClerkUser
from courses.models import Course, Enrollment
from courses.selectors import (
    course_get_public,
    course_list_public,
    enrollment_get_for_student,
    enrollment_list_for_student,
)
from courses.tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

STUDENT = ClerkUser(clerk_user_id="user_me")


def test_course_list_public_hides_inactive_courses():
    active = CourseFactory()
    CourseFactory(is_active=False)

    courses = list(course_list_public(user=None))

    assert courses == [active]


def test_course_list_public_annotates_paid_count_and_callers_enrollment_in_one_query(
    django_assert_num_queries,
):
    mine, theirs = CourseFactory.create_batch(2)
    EnrollmentFactory(course=mine, clerk_user_id="user_me", paid=True)
    EnrollmentFactory(course=mine, paid=True)
    EnrollmentFactory(course=theirs, clerk_user_id="user_me")
    EnrollmentFactory(course=theirs, status=Enrollment.Status.REFUNDED)

    with django_assert_num_queries(1):
        rows = {
            course.pk: (course.enrollment_count, course.is_enrolled)
            for course in course_list_public(user=STUDENT)
        }

    assert rows == {mine.pk: (2, True), theirs.pk: (0, False)}


def test_course_list_public_for_an_anonymous_caller_has_no_enrollment_lookup():
    EnrollmentFactory(paid=True)

    course = course_list_public(user=None).get()

    assert not hasattr(course, "is_enrolled")
    assert course.enrollment_count == 1


def test_course_get_public_by_id_or_slug():
    course = CourseFactory(slug="rust")

    by_id = course_get_public(user=STUDENT, pk=course.pk)
    by_slug = course_get_public(user=None, slug="rust")

    assert by_id == by_slug == course
    assert by_id.is_enrolled is False


@pytest.mark.parametrize("lookup", [{"pk": 0}, {"slug": "nope"}, {}])
def test_course_get_public_raises_does_not_exist_when_missing(lookup):
    CourseFactory()

    with pytest.raises(Course.DoesNotExist):
        course_get_public(user=None, **lookup)


def test_course_get_public_raises_does_not_exist_for_an_inactive_course():
    course = CourseFactory(is_active=False)

    with pytest.raises(Course.DoesNotExist):
        course_get_public(user=None, pk=course.pk)


def test_enrollment_list_for_student_returns_only_the_students_rows():
    mine = EnrollmentFactory(clerk_user_id="user_me")
    EnrollmentFactory(clerk_user_id="user_other")

    enrollments = list(enrollment_list_for_student(clerk_user_id="user_me"))

    assert enrollments == [mine]


def test_enrollment_list_for_student_paid_only_skips_other_statuses():
    paid = EnrollmentFactory(clerk_user_id="user_me", paid=True)
    EnrollmentFactory(clerk_user_id="user_me")
    EnrollmentFactory(clerk_user_id="user_me", status=Enrollment.Status.REFUNDED)

    enrollments = list(
        enrollment_list_for_student(clerk_user_id="user_me", paid_only=True)
    )

    assert enrollments == [paid]


def test_enrollment_list_for_student_brings_the_course_and_its_count_in_one_query(
    django_assert_num_queries,
):
    course = CourseFactory()
    EnrollmentFactory(course=course, clerk_user_id="user_me", paid=True)
    EnrollmentFactory.create_batch(2, course=course, paid=True)

    with django_assert_num_queries(1):
        enrollment = enrollment_list_for_student(clerk_user_id="user_me").get()
        title = enrollment.course.title

    assert title == course.title
    assert enrollment.course_paid_enrollment_count == 3


def test_enrollment_get_for_student_treats_someone_elses_row_as_missing():
    theirs = EnrollmentFactory(clerk_user_id="user_other")

    with pytest.raises(Enrollment.DoesNotExist):
        enrollment_get_for_student(clerk_user_id="user_me", pk=theirs.pk)
