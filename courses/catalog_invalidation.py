"""Every saved or deleted course, section or lesson retires the cached catalog answers.

The one place where writes reach the catalog cache (courses/catalog_cache.py).
Signal receivers rather than a call in each writer, which STYLE.md would
otherwise prefer: courses, sections and lessons are written by the admin (its
forms, inlines and bulk delete), the services, management commands, the shell
and data fixtures, and each writer that forgot the call would leave a
withdrawn course on the public catalog for CATALOG_CACHE_SECONDS. A receiver
on the model cannot be forgotten, and deletions cascading from a course reach
it too. Queryset update() and bulk_create(), which send no signal, are
covered by courses.models.base.CatalogQuerySet.

Enrollments are left out on purpose: a purchase would retire every answer,
and the catalog's `enrollment_count` may lag by CATALOG_CACHE_SECONDS
(README, "Caching the public catalog").
"""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from courses import catalog_cache
from courses.models import Course, Lesson, Section


@receiver(post_save, sender=Course, dispatch_uid="catalog-course-saved")
@receiver(post_save, sender=Section, dispatch_uid="catalog-section-saved")
@receiver(post_save, sender=Lesson, dispatch_uid="catalog-lesson-saved")
@receiver(post_delete, sender=Course, dispatch_uid="catalog-course-deleted")
@receiver(post_delete, sender=Section, dispatch_uid="catalog-section-deleted")
@receiver(post_delete, sender=Lesson, dispatch_uid="catalog-lesson-deleted")
def catalog_changed(sender: Any, using: str, **kwargs: Any) -> None:
    catalog_cache.invalidate(using=using)
