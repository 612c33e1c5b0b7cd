"""CachedFieldsModelSerializer: fields built once per class, fresh for each instance."""

import pytest

from courses.serializers import CourseListSerializer, CourseSerializer
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def test_each_serializer_instance_gets_its_own_bound_fields():
    first = CourseSerializer()
    second = CourseSerializer()

    assert list(first.fields) == list(second.fields)
    assert first.fields["title"] is not second.fields["title"]
    assert first.fields["title"].parent is first
    assert second.fields["title"].parent is second


def test_fields_are_built_per_class_not_shared_between_classes():
    listed = CourseListSerializer().fields
    detailed = CourseSerializer().fields

    assert "description" not in listed
    assert "description" in detailed


def test_cached_fields_serialize_like_freshly_built_ones():
    course = CourseFactory(title="Django Avancé")

    first = CourseSerializer(course).data
    again = CourseSerializer(course).data

    assert first == again
    assert first["title"] == "Django Avancé"
    assert first["price"] == "49.99"
