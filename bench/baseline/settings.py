"""Baseline settings: the project's database settings and nothing else.

No DRF, no authentication, no middleware, no cache: what is left is the cost
of Django itself (URL routing, the ORM, JsonResponse) on this machine.
"""

import os

import dj_database_url

DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY", "bench-baseline")
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

# The models' app (the views read the same tables as the API), and the apps its
# models and staff sign-in receivers import; without middleware, none of them
# runs on a request.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "courses.apps.StaffLockoutsConfig",
    "django_otp",
    "courses.apps.StaffAuthenticatorsConfig",
    "courses.apps.CoursesConfig",
]
# Nobody signs in here: axes' reminders of its middleware and backend do not apply.
SILENCED_SYSTEM_CHECKS = ["axes.W002", "axes.W003"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.baseline.urls"
WSGI_APPLICATION = "bench.baseline.wsgi.application"

# The same database settings as config/settings.py (persistent connections,
# checked before reuse).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"],
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE") or 600),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Toronto")
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
