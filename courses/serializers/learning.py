"""Output serializers of enrollments: the staff view and the student's own."""

from typing import Any

from rest_framework import serializers

from courses.models import Enrollment
from courses.serializers.base import CachedFieldsModelSerializer
from courses.serializers.catalog import CourseSerializer


class EnrollmentSerializer(CachedFieldsModelSerializer):
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


class StudentEnrollmentSerializer(CachedFieldsModelSerializer):
    """One of the caller's enrollments, with its course."""

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

    def to_representation(self, instance: Enrollment) -> dict[str, Any]:
        # courses.selectors.enrollment_list_for_student annotates the course's
        # count on the enrollment row (the course comes from select_related,
        # which cannot carry annotations): hand it to the nested course.
        course = instance.course
        count = getattr(instance, "course_paid_enrollment_count", None)
        if count is not None:
            course.paid_enrollment_count = count
        course.is_enrolled = instance.status == Enrollment.Status.PAID
        return super().to_representation(instance)
