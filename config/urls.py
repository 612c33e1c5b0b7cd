"""Root URLs: the admin and the API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("courses.urls")),
]

# JSON, like the API, for errors raised outside its views.
handler404 = "courses.exceptions.handler404"
handler500 = "courses.exceptions.handler500"
