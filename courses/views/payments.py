"""Checkout, PaymentIntent and payment verification endpoints, and the caller's
orders: thin, over services and selectors."""

import contextlib
import logging
from collections.abc import Iterator

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from courses import stripe_gateway
from courses.exceptions import BadGateway, ServiceUnavailable
from courses.models import Course, Enrollment, Order
from courses.schema import ErrorSerializer, ValidationErrorSerializer
from courses.selectors.payments import order_get_for_student, order_list_for_student
from courses.serializers.learning import StudentEnrollmentSerializer
from courses.serializers.payments import (
    CheckoutStartInputSerializer,
    CheckoutStartOutputSerializer,
    OrderOutputSerializer,
    PaymentIntentStartOutputSerializer,
    VerifyPaymentInputSerializer,
    VerifyPaymentOutputSerializer,
)
from courses.services import payments
from courses.throttling import ScopedRateThrottle, SignedInRateThrottle

logger = logging.getLogger(__name__)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


def _invalid(description: str) -> OpenApiResponse:
    # A serializer's 400 names each bad field: {"session_id": ["..."]}.
    return OpenApiResponse(ValidationErrorSerializer, description=description)


_COMMON_ERRORS = {
    401: _error("Not signed in"),
    502: _error("Stripe answered with an error or could not be reached"),
    503: _error("Payments are not configured on this server"),
}


@contextlib.contextmanager
def stripe_errors_as_api_errors() -> Iterator[None]:
    """Gateway errors become plain JSON 503/502; no Stripe detail reaches the client."""
    try:
        yield
    except stripe_gateway.PaymentsNotConfigured as exc:
        logger.error("Stripe is not configured: %s", exc)
        raise ServiceUnavailable(_("Payments are not available right now.")) from exc
    except stripe_gateway.PaymentProviderError as exc:
        raise BadGateway from exc


def _enrollment_data(enrollment: Enrollment) -> dict:
    # CourseSerializer reads is_enrolled from a queryset annotation; here the
    # answer is known without one.
    enrollment.course.is_enrolled = enrollment.is_paid
    return StudentEnrollmentSerializer(enrollment).data


class _CheckoutThrottled(APIView):
    """Each call costs a Stripe request: THROTTLE_CHECKOUT_RATE per student."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [SignedInRateThrottle, ScopedRateThrottle]
    throttle_scope = "checkout"


class CreateCheckoutView(_CheckoutThrottled):
    @extend_schema(
        operation_id="courses_create_checkout",
        summary="Start a Stripe Checkout for a course",
        description=(
            "Writes (or reuses) the student's pending enrollment, then creates a "
            "Stripe Checkout Session; redirect the browser to `url`. A free course "
            "enrolls the student at once (201, no Stripe)."
        ),
        request=CheckoutStartInputSerializer,
        responses={
            200: CheckoutStartOutputSerializer,
            201: OpenApiResponse(
                StudentEnrollmentSerializer, description="Free course: enrolled"
            ),
            400: _invalid("Invalid or disallowed success_url/cancel_url"),
            404: _error("No active course with this id"),
            409: _error("Already enrolled, refunded, or a payment still clearing"),
            **_COMMON_ERRORS,
        },
        tags=["payments"],
    )
    def post(self, request: Request, pk: int) -> Response:
        course = get_object_or_404(Course.objects.active(), pk=pk)
        data = CheckoutStartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with stripe_errors_as_api_errors():
            started = payments.checkout_start(
                course=course,
                student=request.user,
                success_url=data.validated_data["success_url"],
                cancel_url=data.validated_data["cancel_url"],
            )
        if started.session is None:
            return Response(
                _enrollment_data(started.enrollment), status=status.HTTP_201_CREATED
            )
        return Response({"session_id": started.session.id, "url": started.session.url})


class CreatePaymentIntentView(_CheckoutThrottled):
    @extend_schema(
        operation_id="courses_create_payment_intent",
        summary="Start a Stripe PaymentIntent for a course (Stripe Elements)",
        description=(
            "Writes (or reuses) the pending enrollment and stores the PaymentIntent "
            "id on it, so `payment_intent.succeeded` enrolls the student."
        ),
        request=None,
        responses={
            200: PaymentIntentStartOutputSerializer,
            404: _error("No active course with this id"),
            409: _error("Already enrolled (a free course enrolls at once) or paying"),
            **_COMMON_ERRORS,
        },
        tags=["payments"],
    )
    def post(self, request: Request, pk: int) -> Response:
        course = get_object_or_404(Course.objects.active(), pk=pk)
        with stripe_errors_as_api_errors():
            started = payments.payment_intent_start(course=course, student=request.user)
        return Response(
            {
                "client_secret": started.payment_intent.client_secret,
                "payment_intent_id": started.payment_intent.id,
            }
        )


class VerifyPaymentView(_CheckoutThrottled):
    @extend_schema(
        operation_id="enrollments_verify_payment",
        summary="Confirm a Checkout payment after Stripe's redirect",
        description=(
            "Asks Stripe about the session and enrolls the student if it is paid, "
            "without waiting for the webhook. `status` is `success` (paid: with "
            "the enrollment, as in the tutorial), `pending` (with Stripe's "
            "`payment_status`), `refunded` (paid, then refunded: no access) or "
            "`disputed` (paid, then disputed with the bank: no access)."
        ),
        request=VerifyPaymentInputSerializer,
        responses={
            200: VerifyPaymentOutputSerializer,
            400: _invalid("session_id missing or malformed"),
            404: _error("No such session for the signed-in student"),
            **_COMMON_ERRORS,
        },
        tags=["payments"],
    )
    def post(self, request: Request) -> Response:
        data = VerifyPaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with stripe_errors_as_api_errors():
            verification = payments.checkout_verify(
                session_id=data.validated_data["session_id"],
                clerk_user_id=request.user.clerk_user_id,
            )
        if verification.enrollment is not None:
            # The tutorial's frontend waits for "success", not the enrollment's "paid".
            return Response(
                {
                    "status": "success",
                    "enrollment": _enrollment_data(verification.enrollment),
                }
            )
        return Response(
            {
                "status": verification.status,
                "payment_status": verification.payment_status,
            }
        )


class OrderListView(generics.ListAPIView):
    """The caller's orders: one per payment attempt that reached Stripe."""

    serializer_class = OrderOutputSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_list",
        summary=_("The caller's orders, newest first"),
        description=_(
            "One order per payment attempt that reached Stripe (a Checkout "
            "Session or a PaymentIntent), whatever its status, with its course, "
            "amounts (subtotal, discount, total, refunded), promotion code, "
            "receipt and invoice links. Paginated like the other lists."
        ),
        tags=["payments"],
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Order.objects.none()
        return order_list_for_student(clerk_user_id=self.request.user.clerk_user_id)


class OrderDetailView(generics.RetrieveAPIView):
    """One of the caller's orders; anyone else's id is a 404, like a missing one."""

    serializer_class = OrderOutputSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_retrieve",
        summary=_("One of the caller's orders"),
        parameters=[
            OpenApiParameter(
                "id", int, OpenApiParameter.PATH, description=_("An order's id")
            )
        ],
        responses={200: OrderOutputSerializer, 404: _error("No such order of yours")},
        tags=["payments"],
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    def get_object(self) -> Order:
        try:
            return order_get_for_student(
                clerk_user_id=self.request.user.clerk_user_id, pk=self.kwargs["pk"]
            )
        except Order.DoesNotExist:
            raise NotFound(_("Order not found.")) from None
