"""Fill a PostgreSQL database with N courses, ~20 enrollments and 6 to 15 lessons
each, with COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_10k \\
        python -m bench.load --courses 10000

Runs the migrations first, empties the tables (`--keep` skips the load when the
database already holds exactly N courses and their lessons), then VACUUM
ANALYZEs them. The first course of the bench student has OUTLINE_LESSONS
lessons, for the outline and lesson scenarios.
"""

import argparse
import datetime
import io
import os
import random
import sys
from decimal import Decimal

from tqdm import tqdm

from courses.demo_data import FIRST_NAMES, LAST_NAMES, TOPICS

# A Clerk user id in Clerk's own format ("user_" and letters and digits), as
# the API requires of a token's subject.
BENCH_STUDENT = "user_benchstudent"
BENCH_STUDENT_COURSES = 10
ENROLLMENTS_PER_COURSE = 20
CHUNK_COURSES = 2000
# The outline scenario's course: 4 sections of 10 lessons, the first a preview.
OUTLINE_SECTIONS = 4
OUTLINE_LESSONS = 40

TITLE_PATTERNS = [
    "{topic} pour Débutants",
    "{topic} Avancé",
    "{topic} en Pratique",
    "{topic} de A à Z",
    "{topic} : le cours intensif",
    "Maîtriser {topic}",
    "Introduction à {topic}",
    "{topic} for Beginners",
    "Advanced {topic}",
    "{topic} in Practice",
    "The Complete {topic} Bootcamp",
    "{topic} Masterclass",
]
SENTENCES = [
    "Apprenez les bases pas à pas, avec des exercices corrigés.",
    "Chaque chapitre se termine par un projet concret.",
    "Le cours couvre les outils utilisés en entreprise aujourd'hui.",
    "Aucun prérequis : nous partons de zéro.",
    "Build real projects and deploy them to production.",
    "Includes quizzes, downloadable resources and a certificate.",
    "Learn the patterns that experienced developers use every day.",
    "Des vidéos courtes, des notes détaillées et un forum d'entraide.",
]
SECTION_COLUMNS = ("course_id", "title", "position")
LESSON_COLUMNS = (
    "section_id",
    "course_id",
    "title",
    "slug",
    "position",
    "kind",
    "body",
    "video_url",
    "duration_seconds",
    "is_preview",
    "is_published",
)
LESSON_WORDS = [
    "Introduction",
    "Installation",
    "Premier exemple",
    "Notions clés",
    "Exercices",
    "Erreurs fréquentes",
    "Bonnes pratiques",
    "Étude de cas",
    "Projet",
    "Récapitulatif",
]
LESSON_BODY = (
    "## {title}\n\nDans cette leçon : les idées principales, **un exemple "
    "commenté** et [la documentation](https://docs.example.com/{n}).\n\n"
    "```python\nfor i in range(3):\n    print(i)\n```\n\n"
    + " ".join(SENTENCES)
    + "\n\n- un point\n- un autre point\n"
)


# Weights of the enrollment statuses; about half are paid.
STATUSES = [("paid", 50), ("pending", 20), ("failed", 10), ("expired", 10)]
STATUSES.append(("refunded", 10))

COURSE_COLUMNS = (
    "title",
    "description",
    "slug",
    "price",
    "is_active",
    "instructor_name",
    "duration_hours",
    "thumbnail_url",
    "created_at",
    "updated_at",
)
ENROLLMENT_COLUMNS = (
    "course_id",
    "clerk_user_id",
    "student_email",
    "student_name",
    "price_paid",
    "status",
    "is_paid",
    "stripe_payment_intent_id",
    "stripe_customer_id",
    "stripe_session_id",
    "enrolled_at",
    "paid_at",
    "refunded_at",
    "updated_at",
)


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _copy(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    cursor.copy_expert(sql, buffer)


def course_rows(first: int, count: int, *, rng: random.Random, now) -> list[tuple]:
    rows = []
    for n in range(first, first + count):
        topic = rng.choice(TOPICS)
        title = rng.choice(TITLE_PATTERNS).format(topic=topic)
        # Spread over three years, with distinct microseconds so that the
        # newest-first order is stable and realistic.
        created_at = now - datetime.timedelta(
            seconds=rng.randrange(0, 3 * 365 * 86400), microseconds=n
        )
        price = Decimal(rng.choice([0, 1999, 2999, 4999, 7999, 9999, 14999, 19999]))
        description = " ".join(rng.sample(SENTENCES, 3))
        rows.append(
            (
                f"{title} (vol. {n % 7 + 1})",
                f"{title}. {description}",
                f"bench-course-{n}",
                price / 100,
                rng.random() >= 0.1,
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                rng.randrange(1, 80),
                f"https://images.example.com/courses/{n}.jpg",
                created_at,
                created_at,
            )
        )
    return rows


def enrollment_rows(
    courses: list[tuple[int, Decimal]],
    *,
    students: int,
    rng: random.Random,
    now,
    serial: int,
) -> list[tuple]:
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    rows = []
    for course_id, price in courses:
        picked = rng.sample(range(students), ENROLLMENTS_PER_COURSE)
        chosen = rng.choices(statuses, weights, k=ENROLLMENTS_PER_COURSE)
        for student, status in zip(picked, chosen, strict=True):
            serial += 1
            enrolled_at = now - datetime.timedelta(
                seconds=rng.randrange(3600, 365 * 86400)
            )
            was_paid = status in ("paid", "refunded")
            paid_at = enrolled_at + datetime.timedelta(minutes=2) if was_paid else None
            refunded_at = (
                paid_at + datetime.timedelta(days=3) if status == "refunded" else None
            )
            rows.append(
                (
                    course_id,
                    f"user_{student}",
                    f"user_{student}@example.com",
                    f"Student {student}",
                    price,
                    status,
                    status == "paid",
                    f"pi_bench_{serial}" if was_paid else None,
                    f"cus_bench_{student}",
                    f"cs_bench_{serial}",
                    enrolled_at,
                    paid_at,
                    refunded_at,
                    refunded_at or paid_at or enrolled_at,
                )
            )
    return rows


def section_rows(course_ids: list[int], *, rng: random.Random) -> list[tuple]:
    return [
        (course_id, f"Partie {n + 1}", n)
        for course_id in course_ids
        for n in range(rng.randint(2, 3))
    ]


def lesson_rows(
    sections: list[tuple[int, int, int]],
    *,
    rng: random.Random,
    per_section: tuple[int, int] = (3, 5),
) -> list[tuple]:
    """Lessons for (section id, course id, position) rows; each course's first
    lesson is a free preview, one in twenty is unpublished."""
    rows = []
    numbers: dict[int, int] = {}
    for section_id, course_id, _position in sorted(
        sections, key=lambda row: (row[1], row[2])
    ):
        for position in range(rng.randint(*per_section)):
            n = numbers.get(course_id, 0)
            numbers[course_id] = n + 1
            title = f"{LESSON_WORDS[n % len(LESSON_WORDS)]} ({n + 1})"
            video = rng.random() < 0.6
            rows.append(
                (
                    section_id,
                    course_id,
                    title,
                    f"lecon-{n + 1}",
                    position,
                    "video" if video else "text",
                    LESSON_BODY.format(title=title, n=n),
                    f"https://videos.example.com/{course_id}/{n}.mp4" if video else "",
                    rng.randrange(120, 1500, 30),
                    n == 0,
                    n == 0 or rng.random() >= 0.05,
                )
            )
    return rows


def _sections_of(cursor, section_table: str, course_ids: list[int]) -> list[tuple]:
    cursor.execute(
        f"SELECT id, course_id, position FROM {section_table} "  # noqa: S608
        "WHERE course_id = ANY(%s)",
        [course_ids],
    )
    return cursor.fetchall()


def load(*, courses: int, seed: int, keep: bool) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from courses.models import (
        Course,
        Enrollment,
        Lesson,
        LessonProgress,
        Section,
        StripeEvent,
    )

    if connection.vendor != "postgresql":
        sys.exit("bench.load needs PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0, interactive=False)

    course_table = Course._meta.db_table
    enrollment_table = Enrollment._meta.db_table
    section_table = Section._meta.db_table
    lesson_table = Lesson._meta.db_table
    is_loaded = (
        Course.objects.count() == courses
        and Lesson.objects.exists()
        and Enrollment.objects.filter(clerk_user_id=BENCH_STUDENT).exists()
    )
    if keep and is_loaded:
        print(f"{connection.settings_dict['NAME']}: {courses} courses already loaded")
        return

    rng = random.Random(seed)
    now = datetime.datetime.now(datetime.UTC)
    students = max(1000, 2 * courses)
    with transaction.atomic(), connection.cursor() as cursor:
        tables = ", ".join(
            (
                LessonProgress._meta.db_table,
                lesson_table,
                section_table,
                enrollment_table,
                course_table,
                StripeEvent._meta.db_table,
            )
        )
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        serial = 0
        with tqdm(total=courses, unit="course", desc="courses+enrollments") as bar:
            for first in range(0, courses, CHUNK_COURSES):
                size = min(CHUNK_COURSES, courses - first)
                _copy(
                    cursor,
                    course_table,
                    COURSE_COLUMNS,
                    course_rows(first, size, rng=rng, now=now),
                )
                cursor.execute(
                    f"SELECT id, price FROM {course_table} WHERE slug = ANY(%s)",  # noqa: S608
                    [[f"bench-course-{n}" for n in range(first, first + size)]],
                )
                chunk = cursor.fetchall()
                rows = enrollment_rows(
                    chunk, students=students, rng=rng, now=now, serial=serial
                )
                serial += len(rows)
                _copy(cursor, enrollment_table, ENROLLMENT_COLUMNS, rows)
                course_ids = [course_id for course_id, _ in chunk]
                _copy(
                    cursor,
                    section_table,
                    SECTION_COLUMNS,
                    section_rows(course_ids, rng=rng),
                )
                _copy(
                    cursor,
                    lesson_table,
                    LESSON_COLUMNS,
                    lesson_rows(
                        _sections_of(cursor, section_table, course_ids), rng=rng
                    ),
                )
                bar.update(size)

        # The signed-in student of the my-courses scenario: 10 paid courses.
        cursor.execute(
            f"SELECT id, price FROM {course_table} "  # noqa: S608 - model's table
            "WHERE is_active ORDER BY id LIMIT %s",
            [BENCH_STUDENT_COURSES],
        )
        own = []
        for course_id, price in cursor.fetchall():
            serial += 1
            paid_at = now - datetime.timedelta(days=serial % 30 + 1)
            own.append(
                (
                    course_id,
                    BENCH_STUDENT,
                    "bench.student@example.com",
                    "Bench Student",
                    price,
                    "paid",
                    True,
                    f"pi_bench_{serial}",
                    "cus_bench_student",
                    f"cs_bench_{serial}",
                    paid_at,
                    paid_at,
                    None,
                    paid_at,
                )
            )
        _copy(cursor, enrollment_table, ENROLLMENT_COLUMNS, own)

        # The outline scenario's course: the bench student's first, rebuilt
        # with OUTLINE_SECTIONS sections of ten lessons.
        outline_course = own[0][0]
        cursor.execute(
            f"DELETE FROM {lesson_table} WHERE course_id = %s",  # noqa: S608
            [outline_course],
        )
        cursor.execute(
            f"DELETE FROM {section_table} WHERE course_id = %s",  # noqa: S608
            [outline_course],
        )
        _copy(
            cursor,
            section_table,
            SECTION_COLUMNS,
            [(outline_course, f"Partie {n + 1}", n) for n in range(OUTLINE_SECTIONS)],
        )
        per_section = OUTLINE_LESSONS // OUTLINE_SECTIONS
        outline = lesson_rows(
            _sections_of(cursor, section_table, [outline_course]),
            rng=rng,
            per_section=(per_section, per_section),
        )
        # All published: the outline shows exactly OUTLINE_LESSONS lessons.
        outline = [(*row[:-1], True) for row in outline]
        _copy(cursor, lesson_table, LESSON_COLUMNS, outline)

    # VACUUM as autovacuum would have done on a live database: it sets the
    # visibility map, without which PostgreSQL avoids index-only scans.
    with connection.cursor() as cursor:
        for table in (course_table, enrollment_table, section_table, lesson_table):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(
        f"{connection.settings_dict['NAME']}: {courses} courses, "
        f"{serial} enrollments, {students} students"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Do nothing if the database already holds exactly this many courses.",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-loader")
    import django

    django.setup()
    load(courses=args.courses, seed=args.seed, keep=args.keep)


if __name__ == "__main__":
    main()
