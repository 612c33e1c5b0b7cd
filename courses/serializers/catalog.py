"""Output serializers for courses and enrollments (the tutorial's fields)."""

from rest_framework import serializers

from courses.models import Course, Enrollment


class CourseListSerializer(serializers.ModelSerializer):
    enrollment_count = serializers.IntegerField(read_only=True)

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


class CourseSerializer(serializers.ModelSerializer):
    enrollment_count = serializers.IntegerField(read_only=True)
    # Filled by an Exists() annotation in the view's queryset; False when absent.
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

    def get_is_enrolled(self, obj: Course) -> bool:
        return bool(getattr(obj, "is_enrolled", False))


class EnrollmentSerializer(serializers.ModelSerializer):
    course_title = serializers.CharField(source="course.title", read_only=True)
    course_slug = serializers.CharField(source="course.slug", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "course",
            "course_title",
            "course_slug",
            "clerk_user_id",
            "student_email",
            "student_name",
            "price_paid",
            "is_paid",
            "status",
            "stripe_payment_intent_id",
            "stripe_session_id",
            "enrolled_at",
            "paid_at",
            "refunded_at",
        ]
        read_only_fields = fields


class StudentEnrollmentSerializer(serializers.ModelSerializer):
    course = CourseSerializer(read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "course",
            "price_paid",
            "is_paid",
            "status",
            "enrolled_at",
            "paid_at",
        ]
        read_only_fields = fields
