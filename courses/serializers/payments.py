"""Input and output serializers of the payment endpoints."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from courses.models import Order
from courses.serializers.base import CachedFieldsModelSerializer
from courses.serializers.catalog import OptionalURLField
from courses.serializers.learning import StudentEnrollmentSerializer

# Stripe fills this placeholder in with the session id on the way back.
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _validate_frontend_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise serializers.ValidationError(_("Enter an http or https URL."))
    allowed = {_origin(origin) for origin in settings.CORS_ALLOWED_ORIGINS}
    if _origin(url) not in allowed:
        raise serializers.ValidationError(
            _("This URL is not on an allowed frontend origin.")
        )
    return url


class _FrontendURLField(serializers.CharField):
    """An absolute http(s) URL on one of CORS_ALLOWED_ORIGINS (no open redirect).

    A CharField rather than a URLField: the success URL may already hold
    Stripe's `{CHECKOUT_SESSION_ID}` placeholder, which URLField refuses.
    """

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 2000)
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> str:
        return _validate_frontend_url(super().to_internal_value(data))


class CheckoutStartInputSerializer(serializers.Serializer):
    success_url = _FrontendURLField(
        help_text=_(
            "Where Stripe sends the student after paying; session_id="
            "{CHECKOUT_SESSION_ID} is appended when missing."
        )
    )
    cancel_url = _FrontendURLField(
        help_text=_("Where Stripe sends the student after giving up.")
    )

    def validate_success_url(self, url: str) -> str:
        if SESSION_ID_PLACEHOLDER in url:
            return url
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query = [(key, value) for key, value in query if key != "session_id"]
        query_string = urlencode(query)
        # Appended unencoded: Stripe only replaces the literal placeholder.
        suffix = f"session_id={SESSION_ID_PLACEHOLDER}"
        query_string = f"{query_string}&{suffix}" if query_string else suffix
        return urlunsplit(parts._replace(query=query_string))


class CheckoutStartOutputSerializer(serializers.Serializer):
    session_id = serializers.CharField(help_text=_("Stripe Checkout Session id"))
    url = serializers.URLField(help_text=_("Stripe's payment page: redirect here"))


class PaymentIntentStartOutputSerializer(serializers.Serializer):
    client_secret = serializers.CharField(
        help_text=_("For Stripe Elements (stripe.confirmPayment)")
    )
    payment_intent_id = serializers.CharField()


class VerifyPaymentInputSerializer(serializers.Serializer):
    session_id = serializers.CharField(
        max_length=255,
        validators=[
            RegexValidator(
                r"^cs_[A-Za-z0-9_]+$", _("Enter a Stripe Checkout Session id.")
            )
        ],
        help_text=_("The session_id Stripe appended to the success URL"),
    )


class VerifyPaymentOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["success", "pending", "refunded", "disputed"],
        help_text=_(
            "success: paid and enrolled (with the enrollment); pending: Stripe "
            "has not confirmed the payment; refunded: paid, then refunded; "
            "disputed: paid, then disputed with the bank (no access)"
        ),
    )
    payment_status = serializers.CharField(
        required=False, help_text=_("Stripe's payment_status, unless success")
    )
    enrollment = StudentEnrollmentSerializer(
        required=False, help_text=_("The enrollment, with success")
    )


class OrderCourseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()


class OrderOutputSerializer(CachedFieldsModelSerializer):
    """One payment attempt of the caller, as Stripe last told us about it."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.URLField: OptionalURLField,
    }

    course = OrderCourseSerializer(source="enrollment.course", read_only=True)
    enrollment_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "enrollment_id",
            "course",
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
            "paid_at",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "amount_subtotal": {"help_text": _("Price before discounts")},
            "amount_discount": {"help_text": _("Discount of the promotion code")},
            "amount_total": {"help_text": _("What was (or is to be) charged")},
            "amount_refunded": {"help_text": _("Refunded so far")},
            "receipt_url": {"help_text": _("Stripe's receipt; empty until paid")},
            "hosted_invoice_url": {
                "help_text": _("Stripe's invoice page, when invoices are made")
            },
        }
