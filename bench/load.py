"""Fill a PostgreSQL database with N courses and ~20 enrollments each, with COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_10k \\
        python -m bench.load --courses 10000

Runs the migrations first, empties the three tables (`--keep` skips the load
when the database already holds exactly N courses), then VACUUM ANALYZEs them.
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


def load(*, courses: int, seed: int, keep: bool) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from courses.models import Course, Enrollment, StripeEvent

    if connection.vendor != "postgresql":
        sys.exit("bench.load needs PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0, interactive=False)

    course_table = Course._meta.db_table
    enrollment_table = Enrollment._meta.db_table
    is_loaded = (
        Course.objects.count() == courses
        and Enrollment.objects.filter(clerk_user_id=BENCH_STUDENT).exists()
    )
    if keep and is_loaded:
        print(f"{connection.settings_dict['NAME']}: {courses} courses already loaded")
        return

    rng = random.Random(seed)
    now = datetime.datetime.now(datetime.UTC)
    students = max(1000, 2 * courses)
    with transaction.atomic(), connection.cursor() as cursor:
        tables = ", ".join((enrollment_table, course_table, StripeEvent._meta.db_table))
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

    # VACUUM as autovacuum would have done on a live database: it sets the
    # visibility map, without which PostgreSQL avoids index-only scans.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {course_table}")
        cursor.execute(f"VACUUM ANALYZE {enrollment_table}")
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
