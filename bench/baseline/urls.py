"""The two catalog paths of the API, at the same URLs."""

from django.urls import path

from bench.baseline import views

urlpatterns = [
    path("api/courses/", views.course_list),
    path("api/courses/<int:pk>/", views.course_detail),
]
