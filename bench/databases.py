"""The benchmark's PostgreSQL databases: created, filled by bench/load.py and
dropped; and what the scenarios need to know of a filled one (its Catalog).
"""

import contextlib
import dataclasses
import os
import subprocess
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from bench.load import BENCH_STUDENT, OUTLINE_LESSONS
from bench.servers import PYTHON, ROOT


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator:
    connection = psycopg2.connect(url)
    connection.autocommit = autocommit
    try:
        yield connection
    finally:
        connection.close()


def create_database(server_url: str, name: str, *, fresh: bool) -> str:
    with connect(database_url(server_url, "postgres"), autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and fresh:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            cursor.execute(f'CREATE DATABASE "{name}"')
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with connect(database_url(server_url, "postgres"), autocommit=True) as conn:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(url: str, courses: int) -> None:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-loader"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [PYTHON, "-m", "bench.load", "--courses", str(courses), "--keep"]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


@dataclasses.dataclass
class Catalog:
    url: str
    active_ids: list[int]
    priced: list[tuple[int, int]]  # (course id, price in cents) of paying courses
    courses: int
    enrollments: int
    # The bench student's course with OUTLINE_LESSONS lessons, and its lessons.
    outline_course: int | None
    outline_lessons: list[int]

    @property
    def deep_page(self) -> int:
        """Page 200, or the middle page of a smaller catalog."""
        pages = -(-len(self.active_ids) // 20)
        return max(1, min(200, pages // 2))


def read_catalog(url: str) -> Catalog:
    with connect(url) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT id FROM courses_course WHERE is_active ORDER BY id")
        active = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT id, (price * 100)::int FROM courses_course "
            "WHERE is_active AND price > 0 ORDER BY id"
        )
        priced = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM courses_course")
        courses = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM courses_enrollment")
        enrollments = cursor.fetchone()[0]
        cursor.execute(
            "SELECT l.course_id FROM courses_lesson l "
            "JOIN courses_enrollment e ON e.course_id = l.course_id "
            "WHERE e.clerk_user_id = %s AND e.status = 'paid' AND l.is_published "
            "GROUP BY l.course_id HAVING count(*) = %s ORDER BY l.course_id LIMIT 1",
            [BENCH_STUDENT, OUTLINE_LESSONS],
        )
        found = cursor.fetchone()
        outline_course = found[0] if found else None
        cursor.execute(
            "SELECT id FROM courses_lesson WHERE course_id = %s AND NOT is_preview "
            "ORDER BY id",
            [outline_course],
        )
        lessons = [row[0] for row in cursor.fetchall()]
    return Catalog(url, active, priced, courses, enrollments, outline_course, lessons)
