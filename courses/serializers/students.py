"""Output serializers of the account endpoints: who the caller is, and the
export of everything held about them."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from courses.models import (
    Enrollment,
    LessonProgress,
    Order,
    PaymentReview,
    Student,
)
from courses.serializers.catalog import OptionalURLField


@extend_schema_field(
    {"type": "string", "anyOf": [{"format": "email"}, {"maxLength": 0}]}
)
class OptionalEmailField(serializers.CharField):
    """An email, or "" when there is none (or it was erased): the schema of a
    blank model EmailField. Output only."""


# ModelSerializer's mapping, with blank-able URLs and emails documented as such.
_FIELD_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.URLField: OptionalURLField,
    models.EmailField: OptionalEmailField,
}


class AccountOutputSerializer(serializers.Serializer):
    clerk_user_id = serializers.CharField()
    email = serializers.CharField(
        allow_blank=True, help_text=_("Primary email; empty when Clerk has none.")
    )
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    full_name = serializers.CharField(allow_blank=True)


class ProfileExportSerializer(serializers.ModelSerializer):
    serializer_field_mapping = _FIELD_MAPPING

    class Meta:
        model = Student
        fields = [
            "clerk_user_id",
            "email",
            "first_name",
            "last_name",
            "image_url",
            "stripe_customer_id",
            "clerk_updated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CourseReferenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()


class LessonProgressExportSerializer(serializers.ModelSerializer):
    lesson_id = serializers.IntegerField()
    lesson_title = serializers.CharField(source="lesson.title")

    class Meta:
        model = LessonProgress
        fields = ["lesson_id", "lesson_title", "completed_at"]
        read_only_fields = fields


class PaymentReviewExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentReview
        fields = [
            "kind",
            "status",
            "amount",
            "currency",
            "stripe_payment_intent_id",
            "stripe_session_id",
            "stripe_refund_id",
            "created_at",
            "refunded_at",
        ]
        read_only_fields = fields


class OrderExportSerializer(serializers.ModelSerializer):
    serializer_field_mapping = _FIELD_MAPPING

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "currency",
            "amount_subtotal",
            "amount_discount",
            "amount_total",
            "amount_refunded",
            "promotion_code",
            "receipt_url",
            "hosted_invoice_url",
            "stripe_checkout_session_id",
            "stripe_payment_intent_id",
            "stripe_charge_id",
            "dispute_status",
            "paid_at",
            "created_at",
        ]
        read_only_fields = fields


class EnrollmentExportSerializer(serializers.ModelSerializer):
    serializer_field_mapping = _FIELD_MAPPING

    course = CourseReferenceSerializer()
    currency = serializers.SerializerMethodField(
        help_text=_("Currency of price_paid (ISO code, lower case)")
    )
    lesson_progress = LessonProgressExportSerializer(many=True)
    orders = OrderExportSerializer(
        many=True,
        help_text=_("Each payment attempt that reached Stripe, oldest first"),
    )
    payment_reviews = PaymentReviewExportSerializer(
        many=True,
        help_text=_(
            "Payments that did not grant access as they came (a second payment "
            "refunded, a wrong currency or mode)"
        ),
    )

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "course",
            "status",
            "price_paid",
            "currency",
            "student_email",
            "student_name",
            "enrolled_at",
            "paid_at",
            "refunded_at",
            "completed_at",
            "stripe_session_id",
            "stripe_payment_intent_id",
            "stripe_customer_id",
            "lesson_progress",
            "orders",
            "payment_reviews",
        ]
        read_only_fields = fields

    def get_currency(self, enrollment: Enrollment) -> str:
        return settings.STRIPE_CURRENCY


class StudentExportSerializer(serializers.Serializer):
    """Everything held about the caller, for the right of access."""

    exported_at = serializers.SerializerMethodField()
    clerk_user_id = serializers.CharField()
    profile = ProfileExportSerializer(
        source="student",
        allow_null=True,
        help_text=_("As Clerk last told us (null if no record exists)"),
    )
    enrollments = EnrollmentExportSerializer(
        many=True,
        help_text=_(
            "Every enrollment in the caller's name, whatever its status, oldest "
            "first, with the caller's lesson progress"
        ),
    )

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_exported_at(self, data: object) -> str:
        return serializers.DateTimeField().to_representation(timezone.now())
