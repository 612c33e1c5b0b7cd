"""The tutorial's URLs (section 9): the router and its custom paths under /api/."""

from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from bench.tutorial import views

router = DefaultRouter()
router.register(r"courses", views.CourseViewSet, basename="course")
router.register(r"enrollments", views.EnrollmentViewSet, basename="enrollment")

api = [
    path("", include(router.urls)),
    path("my-courses/", views.my_courses, name="my-courses"),
    path("health/", views.health_check, name="health-check"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api)),
]
