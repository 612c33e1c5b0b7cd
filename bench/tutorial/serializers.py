"""The tutorial's courses/serializers.py (section 7.1): its read serializers."""

from rest_framework import serializers

from courses.models import Course, Enrollment


class CourseSerializer(serializers.ModelSerializer):
    enrollment_count = serializers.ReadOnlyField()
    is_enrolled = serializers.SerializerMethodField()

    class Meta:
        model = Course
        fields = [
            "id",
            "title",
            "description",
            "slug",
            "price",
            "is_active",
            "instructor_name",
            "duration_hours",
            "thumbnail_url",
            "enrollment_count",
            "is_enrolled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "enrollment_count"]

    def get_is_enrolled(self, obj):
        request = self.context.get("request")
        if request and hasattr(request, "user") and request.user.is_authenticated:
            return Enrollment.objects.filter(
                course=obj, clerk_user_id=request.user.clerk_user_id, is_paid=True
            ).exists()
        return False


class CourseListSerializer(serializers.ModelSerializer):
    enrollment_count = serializers.ReadOnlyField()

    class Meta:
        model = Course
        fields = [
            "id",
            "title",
            "slug",
            "price",
            "instructor_name",
            "duration_hours",
            "thumbnail_url",
            "enrollment_count",
        ]


class StudentEnrollmentSerializer(serializers.ModelSerializer):
    course = CourseSerializer(read_only=True)

    class Meta:
        model = Enrollment
        fields = ["id", "course", "price_paid", "is_paid", "enrolled_at", "paid_at"]
