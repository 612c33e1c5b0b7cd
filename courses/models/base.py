"""What the catalog's models share: writes that bypass signals still retire the
cached catalog answers."""

from typing import Any

from django.db import models

from courses import catalog_cache


class CatalogQuerySet(models.QuerySet):
    """A queryset of a model the public catalog shows (course, section, lesson).

    Saves and deletes retire the cached catalog answers through the receivers
    of courses/catalog_invalidation.py; update() and bulk_create() send no
    signal, so they retire them here (bulk_update() goes through update()).
    """

    def update(self, **kwargs: Any) -> int:
        updated = super().update(**kwargs)
        if updated:
            catalog_cache.invalidate(using=self.db)
        return updated

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list:
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            catalog_cache.invalidate(using=self.db)
        return created
