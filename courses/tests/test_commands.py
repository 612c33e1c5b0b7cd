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
