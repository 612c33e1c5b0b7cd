"""Output serializers of the catalog (the tutorial's fields)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from courses.models import Course
from courses.serializers.base import CachedFieldsModelSerializer


@extend_schema_field({"type": "string", "anyOf": [{"format": "uri"}, {"maxLength": 0}]})
class OptionalURLField(serializers.CharField):
    """A URL, or "" when there is none: the schema of a blank model URLField.

    DRF's URLField is documented as `format: uri`, which "" does not match.
    Output only: the model field validates what is stored.
    """


# ModelSerializer's mapping, with blank-able URLs documented as such.
_FIELD_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.URLField: OptionalURLField,
}


class CourseListSerializer(CachedFieldsModelSerializer):
    """A course as listed in the catalog."""

    serializer_field_mapping = _FIELD_MAPPING

    # Plain fields only (the list is the hot path): enrollment_count and
    # is_enrolled are annotations from courses.selectors.course_list_public.
    enrollment_count = serializers.IntegerField(
        read_only=True, help_text=_("Paid enrollments")
    )
    is_enrolled = serializers.BooleanField(
        read_only=True,
        default=False,
        help_text=_("Whether the caller has paid for this course"),
    )

    class Meta:
        model = Course
        fields = [
            "id",
            "title",
            "slug",
            "price",
            "instructor_name",
            "duration_hours",
            "thumbnail_url",
            "enrollment_count",
            "is_enrolled",
        ]
        read_only_fields = fields


class CourseSerializer(CourseListSerializer):
    """A course's detail page: the list's fields and the rest of the course."""

    # Properties of Course that read the annotations of
    # courses.selectors.course_get_public (CourseQuerySet.with_lesson_totals).
    lesson_count = serializers.IntegerField(
        read_only=True, help_text=_("Published lessons")
    )
    duration_seconds = serializers.IntegerField(
        read_only=True, help_text=_("Total length of the published lessons")
    )

    class Meta(CourseListSerializer.Meta):
        fields = [
            "id",
            "title",
            "description",
            "slug",
            "price",
            "is_active",
            "instructor_name",
            "duration_hours",
            "thumbnail_url",
            "enrollment_count",
            "is_enrolled",
            "lesson_count",
            "duration_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
