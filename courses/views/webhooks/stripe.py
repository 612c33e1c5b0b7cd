"""POST /api/webhooks/stripe/: the signature authenticates; each event applies once."""

import logging

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from courses import stripe_gateway
from courses.schema import ErrorSerializer
from courses.services.payments import (
    HANDLED_EVENT_TYPES,
    EventOutcome,
    stripe_event_process,
)

logger = logging.getLogger(__name__)

WebhookAnswer = inline_serializer(
    "StripeWebhookAnswer", fields={"detail": serializers.CharField()}
)


@extend_schema(
    operation_id="webhooks_stripe",
    summary="Stripe webhook endpoint",
    description=(
        "Called by Stripe, not by the frontend. The `Stripe-Signature` header "
        "(signed with STRIPE_WEBHOOK_SECRET, at most 5 minutes old) authenticates "
        "the delivery. Each event id is applied at most once; repeats answer 200. "
        "Handled types: " + ", ".join(f"`{name}`" for name in HANDLED_EVENT_TYPES) + "."
    ),
    auth=[],
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        200: OpenApiResponse(WebhookAnswer, description="Processed, or a repeat"),
        400: OpenApiResponse(
            ErrorSerializer, description="Missing, bad or old signature"
        ),
        500: OpenApiResponse(ErrorSerializer, description="Failed; Stripe will retry"),
        503: OpenApiResponse(
            ErrorSerializer, description="No webhook secret configured"
        ),
    },
    tags=["webhooks"],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def stripe_webhook(request: Request) -> Response:
    # request.data is never read: the signature covers the raw bytes.
    try:
        event = stripe_gateway.webhook_event_parse(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except stripe_gateway.PaymentsNotConfigured:
        logger.error("Stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
        return Response(
            {"detail": _("Webhooks are not configured.")},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    except stripe_gateway.InvalidWebhook as exc:
        logger.warning("Stripe webhook refused: %s", exc)
        return Response(
            {"detail": _("Invalid signature.")}, status=status.HTTP_400_BAD_REQUEST
        )

    outcome = stripe_event_process(event=event)
    if outcome == EventOutcome.FAILED:
        return Response(
            {"detail": _("The event could not be processed; it will be retried.")},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return Response({"detail": str(outcome)})
