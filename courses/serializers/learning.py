"""Output serializers of the learning side: enrollments with their progress,
course outlines, lessons and their completion."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from courses.markdown import markdown_to_safe_html
from courses.models import Enrollment, Lesson
from courses.selectors.learning import enrollment_progress
from courses.serializers.base import CachedFieldsModelSerializer
from courses.serializers.catalog import CourseSerializer, OptionalURLField


class ProgressSerializer(serializers.Serializer):
    completed_lessons = serializers.IntegerField(
        help_text=_("Published lessons the student completed")
    )
    total_lessons = serializers.IntegerField(help_text=_("Published lessons"))
    percent = serializers.IntegerField(
        min_value=0, max_value=100, help_text=_("0 to 100, rounded down")
    )
    next_lesson_id = serializers.IntegerField(
        allow_null=True,
        help_text=_(
            "The first published lesson, in outline order, not completed yet; "
            "null when all are"
        ),
    )
    completed_at = serializers.DateTimeField(
        allow_null=True,
        help_text=_("When the student completed the last lesson of the course"),
    )


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
    """One of the caller's enrollments, with its course and the caller's progress."""

    course = CourseSerializer(read_only=True)
    progress = ProgressSerializer(read_only=True)

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
            "progress",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Enrollment) -> dict[str, Any]:
        # courses.selectors.enrollment_list_for_student annotates the course's
        # counts on the enrollment row (the course comes from select_related,
        # which cannot carry annotations): hand them to the nested course.
        course = instance.course
        for source, target in (
            ("course_paid_enrollment_count", "paid_enrollment_count"),
            ("course_published_lesson_count", "published_lesson_count"),
            ("course_published_lesson_seconds", "published_lesson_seconds"),
        ):
            value = getattr(instance, source, None)
            if value is not None:
                setattr(course, target, value)
        course.is_enrolled = instance.status == Enrollment.Status.PAID
        instance.progress = enrollment_progress(enrollment=instance)
        return super().to_representation(instance)


# --- Outline -------------------------------------------------------------------


class OutlineLessonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=Lesson.Kind.choices)
    duration_seconds = serializers.IntegerField(min_value=0)
    is_preview = serializers.BooleanField(
        help_text=_("Anyone may open it, without paying")
    )
    is_completed = serializers.BooleanField(
        help_text=_("The caller completed it; always false when anonymous")
    )


class OutlineSectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    position = serializers.IntegerField(min_value=0)
    lessons = OutlineLessonSerializer(many=True)


class CourseOutlineSerializer(serializers.Serializer):
    """A course's sections and published lessons, in order; no lesson content."""

    course = serializers.IntegerField(help_text=_("The course's id"))
    lesson_count = serializers.IntegerField(help_text=_("Published lessons"))
    duration_seconds = serializers.IntegerField(
        help_text=_("Total length of the published lessons")
    )
    sections = OutlineSectionSerializer(many=True)


# --- Lessons -------------------------------------------------------------------


class LessonSerializer(CachedFieldsModelSerializer):
    """A lesson with its content; `previous_lesson_id`, `next_lesson_id` and
    `is_completed` are set on the instance by the view."""

    serializer_field_mapping = {
        **CachedFieldsModelSerializer.serializer_field_mapping,
        Lesson._meta.get_field("video_url").__class__: OptionalURLField,
    }

    course = serializers.IntegerField(source="course_id", help_text=_("Course id"))
    section = serializers.IntegerField(source="section_id", help_text=_("Section id"))
    body_html = serializers.SerializerMethodField(
        help_text=_("The body rendered from Markdown to sanitised HTML")
    )
    previous_lesson_id = serializers.IntegerField(
        allow_null=True, help_text=_("The published lesson before, in outline order")
    )
    next_lesson_id = serializers.IntegerField(
        allow_null=True, help_text=_("The published lesson after, in outline order")
    )
    is_completed = serializers.BooleanField(
        help_text=_("The caller completed it; always false when anonymous")
    )

    class Meta:
        model = Lesson
        fields = [
            "id",
            "course",
            "section",
            "title",
            "slug",
            "kind",
            "duration_seconds",
            "is_preview",
            "body",
            "body_html",
            "video_url",
            "previous_lesson_id",
            "next_lesson_id",
            "is_completed",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_body_html(self, lesson: Lesson) -> str:
        return markdown_to_safe_html(lesson.body)


class LessonCompletionSerializer(serializers.Serializer):
    lesson = serializers.IntegerField(source="lesson_id", help_text=_("Lesson id"))
    completed_at = serializers.DateTimeField(
        help_text=_("When the caller first completed it")
    )
    progress = ProgressSerializer(help_text=_("The caller's progress in the course"))
