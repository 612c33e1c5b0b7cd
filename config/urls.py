"""Root URLs: the admin (at ADMIN_URL, with its two-factor pages) and the API."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from courses.views import staff_access

urlpatterns = [
    # Before the admin's own pages, whose last pattern matches any path.
    path(
        f"{settings.ADMIN_URL}two-factor/",
        staff_access.second_factor_verify,
        name="staff_second_factor",
    ),
    path(
        f"{settings.ADMIN_URL}two-factor/setup/",
        staff_access.second_factor_setup,
        name="staff_second_factor_setup",
    ),
    path(settings.ADMIN_URL, admin.site.urls),
    path("api/", include("courses.urls")),
]

# JSON, like the API, for errors raised outside its views.
handler404 = "courses.exceptions.handler404"
handler500 = "courses.exceptions.handler500"
