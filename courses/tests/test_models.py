from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from courses.models import Course, Enrollment
from courses.tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_duplicate_enrollment_is_refused_by_the_database():
    enrollment = EnrollmentFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(
            course=enrollment.course,
            clerk_user_id=enrollment.clerk_user_id,
            price_paid=Decimal("1.00"),
        )


def test_negative_course_price_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseFactory(price=Decimal("-0.01"))


def test_negative_price_paid_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        EnrollmentFactory(price_paid=Decimal("-1.00"))


def test_is_paid_that_disagrees_with_status_is_refused_by_the_database():
    enrollment = EnrollmentFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.filter(pk=enrollment.pk).update(is_paid=True)


def test_mark_as_paid_sets_status_and_is_paid_together():
    enrollment = EnrollmentFactory()

    changed = enrollment.mark_as_paid(
        price_paid=Decimal("39.99"), payment_intent_id="pi_1"
    )

    enrollment.refresh_from_db()
    assert changed is True
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.is_paid is True
    assert enrollment.paid_at is not None
    assert enrollment.price_paid == Decimal("39.99")
    assert enrollment.stripe_payment_intent_id == "pi_1"


def test_mark_as_paid_twice_changes_nothing_the_second_time():
    enrollment = EnrollmentFactory()
    enrollment.mark_as_paid()
    first_paid_at = Enrollment.objects.get(pk=enrollment.pk).paid_at

    changed = enrollment.mark_as_paid(price_paid=Decimal("1.00"))

    enrollment.refresh_from_db()
    assert changed is False
    assert enrollment.paid_at == first_paid_at
    assert enrollment.price_paid == Decimal("49.99")


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("mark_as_failed", Enrollment.Status.FAILED),
        ("mark_as_expired", Enrollment.Status.EXPIRED),
        ("mark_as_refunded", Enrollment.Status.REFUNDED),
    ],
)
def test_leaving_paid_state_clears_is_paid(method, status):
    enrollment = EnrollmentFactory()
    enrollment.mark_as_paid()

    getattr(enrollment, method)()

    enrollment.refresh_from_db()
    if status == Enrollment.Status.REFUNDED:
        assert enrollment.status == status
        assert enrollment.refunded_at is not None
    else:
        # Failed and expired never downgrade a paid enrollment.
        assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.is_paid is (enrollment.status == Enrollment.Status.PAID)


def test_expired_never_touches_a_paid_enrollment():
    enrollment = EnrollmentFactory(paid=True)

    assert enrollment.mark_as_expired() is False

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID


def test_enrollment_count_counts_paid_only():
    course = CourseFactory()
    EnrollmentFactory.create_batch(3, course=course, paid=True)
    EnrollmentFactory.create_batch(2, course=course)

    annotated = Course.objects.with_enrollment_count().get(pk=course.pk)

    assert course.enrollment_count == 3
    assert annotated.paid_enrollment_count == 3
    assert annotated.enrollment_count == 3


def _list_with_counts() -> list[int]:
    return [c.enrollment_count for c in Course.objects.with_enrollment_count()]


@pytest.mark.parametrize("courses", [5, 50])
def test_annotated_count_costs_one_query_whatever_the_number_of_courses(
    courses, django_assert_num_queries
):
    for course in CourseFactory.create_batch(courses):
        EnrollmentFactory.create_batch(2, course=course, paid=True)
        EnrollmentFactory(course=course)

    with django_assert_num_queries(1):
        counts = _list_with_counts()

    assert counts == [2] * courses
