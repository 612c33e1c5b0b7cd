"""Read-side queries, one module per area; each is importable from here."""

from courses.selectors.catalog import course_get_public, course_list_public
from courses.selectors.learning import (
    CourseOutline,
    LessonAccess,
    Progress,
    course_outline_get,
    enrollment_get_for_student,
    enrollment_list_for_student,
    enrollment_progress,
    lesson_access_for,
    lesson_get_published,
    lesson_neighbours,
)

__all__ = [
    "CourseOutline",
    "LessonAccess",
    "Progress",
    "course_get_public",
    "course_list_public",
    "course_outline_get",
    "enrollment_get_for_student",
    "enrollment_list_for_student",
    "enrollment_progress",
    "lesson_access_for",
    "lesson_get_published",
    "lesson_neighbours",
]
