"""Create the three demo courses (idempotent); --courses N adds N generated ones."""

import random
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from tqdm import tqdm

from courses.demo_data import FIRST_NAMES, LAST_NAMES, TOPICS
from courses.models import Course

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
