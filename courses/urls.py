"""API routes, all under /api/ (the tutorial's paths)."""

from django.urls import path

from courses.views.account import me
from courses.views.health import health_check

app_name = "courses"

urlpatterns = [
    path("health/", health_check, name="health-check"),
    path("me/", me, name="me"),
]
