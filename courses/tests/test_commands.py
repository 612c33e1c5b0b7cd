import pytest
from django.core.management import call_command

from courses.models import Course

pytestmark = pytest.mark.django_db


def test_create_test_data_creates_the_three_demo_courses_once():
    call_command("create_test_data")
    call_command("create_test_data")

    slugs = sorted(Course.objects.values_list("slug", flat=True))
    assert slugs == ["django-avance", "python-debutants", "react-api-rest"]


def test_create_test_data_generates_n_more_courses_each_run():
    call_command("create_test_data", courses=25, seed=1)
    call_command("create_test_data", courses=5, seed=2)

    assert Course.objects.count() == 3 + 30
    assert Course.objects.filter(slug__startswith="generated-").count() == 30
    assert not Course.objects.filter(price__lt=0).exists()


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
