"""API routes, all under /api/ (the tutorial's paths)."""

from django.urls import path

from courses.views.account import me
from courses.views.health import health_check
from courses.views.payments import (
    CreateCheckoutView,
    CreatePaymentIntentView,
    VerifyPaymentView,
)
from courses.webhooks import stripe_webhook

app_name = "courses"

urlpatterns = [
    path("health/", health_check, name="health-check"),
    path("me/", me, name="me"),
    # Payment paths come before any router include: a router's
    # enrollments/{pk}/ would otherwise swallow enrollments/verify_payment/.
    path(
        "courses/<int:pk>/create_checkout/",
        CreateCheckoutView.as_view(),
        name="course-create-checkout",
    ),
    path(
        "courses/<int:pk>/create_payment_intent/",
        CreatePaymentIntentView.as_view(),
        name="course-create-payment-intent",
    ),
    path(
        "enrollments/verify_payment/",
        VerifyPaymentView.as_view(),
        name="enrollment-verify-payment",
    ),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
]
