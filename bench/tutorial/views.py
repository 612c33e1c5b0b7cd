"""The tutorial's courses/views.py (section 8.1): its read views, as written."""

from django.db import models  # the tutorial's ?search= uses models.Q unimported
from rest_framework import viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from bench.tutorial.serializers import (
    CourseListSerializer,
    CourseSerializer,
    StudentEnrollmentSerializer,
)
from courses.models import Course, Enrollment


class CourseViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Course.objects.filter(is_active=True)
    permission_classes = [AllowAny]

    def get_serializer_class(self):
        if self.action == "list":
            return CourseListSerializer
        return CourseSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        instructor = self.request.query_params.get("instructor", None)
        if instructor:
            queryset = queryset.filter(instructor_name__icontains=instructor)
        search = self.request.query_params.get("search", None)
        if search:
            queryset = queryset.filter(
                models.Q(title__icontains=search)
                | models.Q(description__icontains=search)
            )
        return queryset


class EnrollmentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StudentEnrollmentSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return Enrollment.objects.filter(
            clerk_user_id=self.request.user.clerk_user_id, is_paid=True
        ).select_related("course")


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def my_courses(request):
    enrollments = Enrollment.objects.filter(
        clerk_user_id=request.user.clerk_user_id, is_paid=True
    ).select_related("course")
    serializer = StudentEnrollmentSerializer(enrollments, many=True)
    return Response(serializer.data)


@api_view(["GET"])
@permission_classes([AllowAny])
def health_check(request):
    return Response({"status": "ok", "message": "API is running"})
