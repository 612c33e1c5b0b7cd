"""Serializers, one module per area; the tutorial's names are importable from here."""

from courses.serializers.catalog import CourseListSerializer, CourseSerializer
from courses.serializers.learning import (
    EnrollmentSerializer,
    StudentEnrollmentSerializer,
)

__all__ = [
    "CourseListSerializer",
    "CourseSerializer",
    "EnrollmentSerializer",
    "StudentEnrollmentSerializer",
]
