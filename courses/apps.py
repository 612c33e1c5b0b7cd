from axes.apps import AppConfig as AxesConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig


class CoursesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "courses"
    verbose_name = _("Courses")

    def ready(self) -> None:
        from courses import (
            catalog_invalidation,  # noqa: F401 - connects receivers
            checks,  # noqa: F401 - registers the system checks
            receivers,
        )

        receivers.connect()


class StaffLockoutsConfig(AxesConfig):
    """django-axes, under a name that says what its admin pages hold."""

    verbose_name = _("Staff sign-in: lockouts")


class StaffAuthenticatorsConfig(TOTPConfig):
    """django-otp's TOTP devices, under a name that says what they are."""

    verbose_name = _("Staff sign-in: authenticators")
