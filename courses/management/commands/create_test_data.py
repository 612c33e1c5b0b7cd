"""Create the three demo courses with their lessons (idempotent); --courses N adds
N generated ones."""

import random
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandParser
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


class Command(BaseCommand):
    help = "Create the demo courses; --courses N adds N generated courses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--courses",
            type=int,
            default=0,
            help="Also create this many generated courses (bulk insert).",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed for generated data."
        )

    def handle(self, *args, **options) -> None:
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

        count = options["courses"]
        if count > 0:
            created = generate_courses(
                count,
                rng=random.Random(options["seed"]),  # noqa: S311 - demo data
                progress=sys.stdout.isatty(),
            )
            self.stdout.write(self.style.SUCCESS(f"Generated {created} courses."))


def generate_courses(count: int, *, rng: random.Random, progress: bool) -> int:
    """Bulk-insert `count` new courses with unique slugs; returns how many."""
    start = Course.objects.filter(slug__startswith="generated-").count()
    created = 0
    with tqdm(total=count, disable=not progress, unit="course") as bar:
        while created < count:
            size = min(BATCH_SIZE, count - created)
            batch = []
            for i in range(start + created, start + created + size):
                topic = rng.choice(TOPICS)
                title = f"{topic} {rng.choice(LEVELS)} #{i + 1}"
                batch.append(
                    Course(
                        title=title,
                        slug=f"generated-{i + 1}",
                        description=f"Un cours complet : {title}.",
                        price=Decimal(rng.randrange(0, 20000)) / 100,
                        is_active=rng.random() > 0.1,
                        instructor_name=(
                            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                        ),
                        duration_hours=rng.randrange(1, 80),
                    )
                )
            with transaction.atomic():
                Course.objects.bulk_create(batch, ignore_conflicts=True)
            created += size
            bar.update(size)
    return created


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
