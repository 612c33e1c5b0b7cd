"""API routes, all under /api/ (the tutorial's paths).

Explicit paths come first, the router last: a path such as
courses/<id>/create_checkout/ must be matched before the router's patterns.
"""

from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from courses.views.account import me, me_export
from courses.views.catalog import CourseViewSet
from courses.views.frontend import frontend_config
from courses.views.health import health_check
from courses.views.learning import (
    CourseOutlineView,
    EnrollmentViewSet,
    LessonCompletionView,
    LessonDetailView,
    my_courses,
)
from courses.views.payments import (
    CreateCheckoutView,
    CreatePaymentIntentView,
    OrderDetailView,
    OrderListView,
    VerifyPaymentView,
)
from courses.views.webhooks.clerk import clerk_webhook
from courses.views.webhooks.stripe import stripe_webhook

app_name = "courses"


class IdConverter:
    """A database id: digits that fit a BIGINT; anything larger matches no route.

    An id beyond the column's range would otherwise reach a foreign-key filter,
    which Django does not check (the database refuses it: a 500).
    """

    regex = "[0-9]{1,19}"
    MAX = 2**63 - 1

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > self.MAX:
            raise ValueError(value)
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

router = SimpleRouter()
router.register("courses", CourseViewSet, basename="course")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")

urlpatterns = [
    path("health/", health_check, name="health-check"),
    path("config/", frontend_config, name="frontend-config"),
    path("me/", me, name="me"),
    path("me/export/", me_export, name="me-export"),
    # Payment paths come before the router: its enrollments/{pk}/ would
    # otherwise swallow enrollments/verify_payment/.
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
    path(
        "courses/<id:pk>/outline/",
        CourseOutlineView.as_view(),
        name="course-outline",
    ),
    path("lessons/<id:pk>/", LessonDetailView.as_view(), name="lesson-detail"),
    path(
        "lessons/<id:pk>/complete/",
        LessonCompletionView.as_view(),
        name="lesson-complete",
    ),
    path("orders/", OrderListView.as_view(), name="order-list"),
    path("orders/<id:pk>/", OrderDetailView.as_view(), name="order-detail"),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
    path("webhooks/clerk/", clerk_webhook, name="clerk-webhook"),
    path("my-courses/", my_courses, name="my-courses"),
    # Not throttled: Swagger UI loads the schema on every page view.
    path("schema/", SpectacularAPIView.as_view(throttle_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="courses:schema", throttle_classes=[]),
        name="swagger-ui",
    ),
]

urlpatterns += [
    path("", include(router.urls)),
]
