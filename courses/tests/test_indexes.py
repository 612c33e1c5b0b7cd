"""The catalog and student look-up indexes, and PostgreSQL using them."""

import pytest
from django.db import connection

from courses.authentication import ClerkUser
from courses.models import Course, Enrollment
from courses.selectors import course_list_public, enrollment_list_for_student

pytestmark = pytest.mark.django_db


def _index_columns(table: str, name: str) -> list[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert constraints[name]["index"]
    return constraints[name]["columns"]


def test_the_database_has_the_catalog_and_student_indexes():
    assert _index_columns(Course._meta.db_table, "course_active_newest_idx") == [
        "is_active",
        "created_at",
        "id",
    ]
    assert _index_columns(
        Enrollment._meta.db_table, "enrollment_student_status_idx"
    ) == ["clerk_user_id", "status", "enrolled_at"]
    assert _index_columns(
        Enrollment._meta.db_table, "enrollment_course_status_idx"
    ) == ["course_id", "status"]


def _fill(courses: int, enrollments: int, students: int, paid_every: int = 4) -> None:
    """Rows straight from SQL: fast enough to give the planner a real choice."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO courses_course (title, description, slug, price, is_active,
                instructor_name, duration_hours, thumbnail_url, created_at, updated_at)
            SELECT 'Course ' || n, 'About ' || n, 'course-' || n, (n %% 200) + 0.99,
                n %% 10 <> 0, 'Instructor ' || (n %% 50), 10, '',
                now() - n * interval '1 minute', now()
            FROM generate_series(1, %s) AS n
            """,
            [courses],
        )
        cursor.execute(
            """
            INSERT INTO courses_enrollment (course_id, clerk_user_id, student_email,
                student_name, price_paid, status, is_paid, enrolled_at, updated_at)
            SELECT c.id, 'user_' || (n / %s), '', '', 10,
                CASE WHEN n %% %s = 0 THEN 'paid' ELSE 'expired' END, n %% %s = 0,
                now() - n * interval '1 second', now()
            FROM generate_series(1, %s) AS n
            JOIN courses_course c ON c.slug = 'course-' || (1 + n %% %s)
            """,
            # Consecutive rows per student, each on another course.
            [
                max(1, enrollments // students),
                paid_every,
                paid_every,
                enrollments,
                courses,
            ],
        )
        # Five lessons per course in one section, and progress on the first
        # lesson of every paid enrollment: the progress subqueries' rows.
        cursor.execute(
            """
            INSERT INTO courses_section (course_id, title, position)
            SELECT id, 'Part 1', 0 FROM courses_course
            """
        )
        cursor.execute(
            """
            INSERT INTO courses_lesson (section_id, course_id, title, slug, position,
                kind, body, video_url, duration_seconds, is_preview, is_published)
            SELECT s.id, s.course_id, 'Lesson ' || n, 'lesson-' || n, n, 'text',
                '', '', 300, n = 0, n <> 4
            FROM courses_section s, generate_series(0, 4) AS n
            """
        )
        cursor.execute(
            """
            INSERT INTO courses_lessonprogress (enrollment_id, lesson_id, completed_at)
            SELECT e.id, l.id, now()
            FROM courses_enrollment e
            JOIN courses_lesson l ON l.course_id = e.course_id AND l.position = 0
            WHERE e.status = 'paid'
            """
        )
        for table in ("course", "enrollment", "section", "lesson", "lessonprogress"):
            cursor.execute(f"ANALYZE courses_{table}")


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres_only
def test_default_catalog_page_walks_the_active_newest_index_without_sorting():
    _fill(courses=20_000, enrollments=20_000, students=500)
    student = ClerkUser(clerk_user_id="user_7")

    plan = _plan(course_list_public(user=student)[:20])

    top = plan.splitlines()[1]  # the node under Limit
    assert "course_active_newest_idx" in top, plan
    assert "Sort" not in top, plan
    # enrollment_count: COUNT(*) per course of the page, from the index alone.
    assert "enrollment_course_status_idx" in plan, plan
    # is_enrolled: the caller's paid enrollments, looked up once for the page.
    assert "enrollment_student_status_idx" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres_only
def test_a_students_paid_enrollments_use_the_student_status_index():
    # Most of a student's rows are abandoned checkouts: the status narrows.
    _fill(courses=2_000, enrollments=50_000, students=2_500, paid_every=5)

    plan = _plan(enrollment_list_for_student(clerk_user_id="user_42", paid_only=True))

    assert "enrollment_student_status_idx" in plan, plan
    assert "Seq Scan" not in plan, plan
