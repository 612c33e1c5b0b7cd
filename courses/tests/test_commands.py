import io

import pytest
from django.core.management import CommandError, call_command

from courses.models import Course
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def test_create_test_data_creates_the_three_demo_courses_once():
    call_command("create_test_data")
    call_command("create_test_data")

    slugs = sorted(Course.objects.values_list("slug", flat=True))
    assert slugs == ["django-avance", "python-debutants", "react-api-rest"]


def _generated() -> list[tuple]:
    return list(
        Course.objects.filter(slug__startswith="generated-")
        .order_by("slug")
        .values_list("slug", "title", "price", "instructor_name", "is_active")
    )


def test_create_test_data_with_the_same_seed_twice_makes_the_same_courses():
    call_command("create_test_data", courses=50, seed=1, stdout=io.StringIO())
    first = _generated()
    out = io.StringIO()

    call_command("create_test_data", courses=50, seed=1, stdout=out)

    assert Course.objects.count() == 3 + 50
    assert _generated() == first
    assert "0 created, 50 already there" in out.getvalue()
    assert not Course.objects.filter(price__lt=0).exists()


def test_create_test_data_makes_the_same_courses_whatever_else_is_in_the_database():
    call_command("create_test_data", courses=5, seed=7, stdout=io.StringIO())
    first = _generated()
    Course.objects.filter(slug__startswith="generated-").delete()
    CourseFactory.create_batch(3)

    call_command("create_test_data", courses=5, seed=7, stdout=io.StringIO())

    assert _generated() == first


def test_create_test_data_adds_only_the_missing_courses_of_a_seed():
    call_command("create_test_data", courses=5, seed=1, stdout=io.StringIO())
    out = io.StringIO()

    call_command("create_test_data", courses=8, seed=1, stdout=out)
    call_command("create_test_data", courses=4, seed=2, stdout=io.StringIO())

    assert "3 created, 5 already there" in out.getvalue()
    assert Course.objects.filter(slug__startswith="generated-1-").count() == 8
    assert Course.objects.filter(slug__startswith="generated-2-").count() == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"courses": -3}, "--courses must be a whole number from 1 to 1,000,000"),
        ({"courses": 0}, "--courses must be a whole number from 1 to 1,000,000"),
        ({"courses": 10**9}, "--courses must be a whole number from 1 to 1,000,000"),
        ({"courses": 5, "seed": -1}, "--seed must be 0 or more"),
    ],
)
def test_create_test_data_refuses_bad_numbers_naming_the_argument(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_test_data", **options)

    assert not Course.objects.exists()


def test_create_test_data_refuses_a_count_that_is_not_a_number():
    with pytest.raises(CommandError, match="--courses"):
        call_command("create_test_data", "--courses", "many")


def test_create_test_data_gives_each_demo_course_an_outline_once():
    call_command("create_test_data")
    lessons = {c.slug: list(c.lessons.order_by("id")) for c in Course.objects.all()}
    call_command("create_test_data")

    for course in Course.objects.all():
        sections = list(course.sections.all())
        assert 2 <= len(sections) <= 3
        for section in sections:
            assert 3 <= section.lessons.count() <= 5
        first = course.lessons.order_by("section__position", "position").first()
        assert first.is_preview is True
        assert course.lessons.filter(is_preview=True).count() == 1
        assert list(course.lessons.order_by("id")) == lessons[course.slug]
