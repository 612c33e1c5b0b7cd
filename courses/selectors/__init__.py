"""Read-side queries, one module per area; each is importable from here."""

from courses.selectors.catalog import course_get_public, course_list_public
from courses.selectors.learning import (
    enrollment_get_for_student,
    enrollment_list_for_student,
)

__all__ = [
    "course_get_public",
    "course_list_public",
    "enrollment_get_for_student",
    "enrollment_list_for_student",
]
