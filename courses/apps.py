from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoursesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "courses"
    verbose_name = _("Courses")

    def ready(self) -> None:
        from courses import (
            catalog_invalidation,  # noqa: F401 - connects receivers
            checks,  # noqa: F401 - registers the system checks
        )
