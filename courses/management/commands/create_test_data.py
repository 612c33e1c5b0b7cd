"""Create the three demo courses with their lessons; --courses N also generates N
courses for --seed.

Both are idempotent: the same command run twice leaves what the first run made.
"""

import random
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.text import slugify
from tqdm import tqdm

from courses.demo_data import FIRST_NAMES, LAST_NAMES, TOPICS
from courses.models import Course, Lesson, Section

DEMO_COURSES = [
    {
        "title": "Python pour Débutants",
        "slug": "python-debutants",
        "description": "Apprenez les bases de Python de zéro.",
        "price": Decimal("49.99"),
        "instructor_name": "Marie Dupont",
        "duration_hours": 20,
    },
    {
        "title": "Django Avancé",
        "slug": "django-avance",
        "description": (
            "Maîtrisez Django pour créer des applications web professionnelles."
        ),
        "price": Decimal("99.99"),
        "instructor_name": "Jean Martin",
        "duration_hours": 40,
    },
    {
        "title": "React et API REST",
        "slug": "react-api-rest",
        "description": "Créez des interfaces modernes avec React.",
        "price": Decimal("79.99"),
        "instructor_name": "Sophie Leroux",
        "duration_hours": 30,
    },
]

LEVELS = ["pour Débutants", "Avancé", "en Pratique", "de A à Z", "Intensif", "Express"]

BATCH_SIZE = 2000

SECTION_TITLES = ["Premiers pas", "Les bases", "Aller plus loin", "Projet final"]
LESSON_TITLES = [
    "Présentation du cours",
    "Installer les outils",
    "Un premier exemple",
    "Les notions clés",
    "Exercices guidés",
    "Erreurs fréquentes",
    "Bonnes pratiques",
    "Étude de cas",
    "Mise en pratique",
    "Quiz de révision",
    "Pour aller plus loin",
    "Récapitulatif",
    "Questions et réponses",
    "Ressources",
    "Conclusion",
]


# Beyond this, use bench/load.py (PostgreSQL COPY).
MAX_GENERATED_COURSES = 1_000_000
DEFAULT_SEED = 1


class Command(BaseCommand):
    help = (
        "Create the demo courses (once); --courses N also generates N courses, "
        "the same N for the same --seed, so running it again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--courses",
            type=int,
            default=None,
            help=(
                "Also generate this many courses, from 1 to "
                f"{MAX_GENERATED_COURSES:,} (bulk insert)."
            ),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=(
                f"Seed of the generated courses (default {DEFAULT_SEED}): the "
                "same seed gives the same courses; another seed, other ones."
            ),
        )

    def handle(self, *args, **options) -> None:
        count, seed = options["courses"], options["seed"]
        if count is not None and not 1 <= count <= MAX_GENERATED_COURSES:
            raise CommandError(
                f"--courses must be a whole number from 1 to "
                f"{MAX_GENERATED_COURSES:,}, not {count}."
            )
        if seed < 0:
            raise CommandError(f"--seed must be 0 or more, not {seed}.")

        for data in DEMO_COURSES:
            course, created = Course.objects.get_or_create(
                slug=data["slug"], defaults=data
            )
            style = self.style.SUCCESS if created else self.style.WARNING
            label = "Created course" if created else "Course exists"
            self.stdout.write(style(f"{label}: {course.title}"))
            lessons = demo_outline_create(course)
            if lessons:
                self.stdout.write(self.style.SUCCESS(f"  with {lessons} lessons"))

        if count is not None:
            created = generate_courses(count, seed=seed, progress=sys.stdout.isatty())
            self.stdout.write(
                self.style.SUCCESS(
                    f"Generated courses (seed {seed}): {created} created, "
                    f"{count - created} already there."
                )
            )


def generate_courses(count: int, *, seed: int, progress: bool) -> int:
    """Courses 1 to `count` of `seed` (slug generated-<seed>-<n>); those already
    there are kept as they are. Returns how many were created."""
    rng = random.Random(seed)  # noqa: S311 - demo data
    created = 0
    with tqdm(total=count, disable=not progress, unit="course") as bar:
        for first in range(1, count + 1, BATCH_SIZE):
            # Drawn for every course, present or not, so that course n is the
            # same whatever `count` was asked.
            batch = [
                _generated_course(rng, seed=seed, number=number)
                for number in range(first, min(first + BATCH_SIZE, count + 1))
            ]
            with transaction.atomic():
                existing = set(
                    Course.objects.filter(
                        slug__in=[course.slug for course in batch]
                    ).values_list("slug", flat=True)
                )
                new = [course for course in batch if course.slug not in existing]
                # ignore_conflicts: a concurrent run may have inserted some.
                Course.objects.bulk_create(new, ignore_conflicts=True)
            created += len(new)
            bar.update(len(batch))
    return created


def _generated_course(rng: random.Random, *, seed: int, number: int) -> Course:
    topic = rng.choice(TOPICS)
    title = f"{topic} {rng.choice(LEVELS)} #{number}"
    return Course(
        title=title,
        slug=f"generated-{seed}-{number}",
        description=f"Un cours complet : {title}.",
        price=Decimal(rng.randrange(0, 20000)) / 100,
        is_active=rng.random() > 0.1,
        instructor_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        duration_hours=rng.randrange(1, 80),
    )


def demo_outline_create(course: Course) -> int:
    """Give `course` 2-3 sections of 3-5 lessons, the first one a free preview.

    Idempotent: a course that already has sections is left as it is. The plan
    depends on the slug only, so every run (and every machine) builds the same
    outline. Returns the number of lessons created.
    """
    if course.sections.exists():
        return 0
    rng = random.Random(course.slug)  # noqa: S311 - demo data
    created = 0
    with transaction.atomic():
        for s in range(rng.randint(2, 3)):
            section = Section.objects.create(
                course=course, title=SECTION_TITLES[s], position=s
            )
            for n in range(rng.randint(3, 5)):
                title = LESSON_TITLES[created % len(LESSON_TITLES)]
                is_video = rng.random() < 0.6
                Lesson.objects.create(
                    section=section,
                    title=title,
                    slug=f"{created + 1}-{slugify(title)}",
                    position=n,
                    kind=Lesson.Kind.VIDEO if is_video else Lesson.Kind.TEXT,
                    video_url=(
                        f"https://videos.example.com/{course.slug}/{created + 1}.mp4"
                        if is_video
                        else ""
                    ),
                    duration_seconds=rng.randrange(120, 1500, 30),
                    is_preview=created == 0,
                    body=(
                        f"## {title}\n\n"
                        f"Dans cette leçon de *{course.title}* : les idées "
                        "principales, un exemple commenté et un exercice.\n\n"
                        "```python\nprint('Bonjour !')\n```\n"
                    ),
                )
                created += 1
    return created
