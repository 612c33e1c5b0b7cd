"""POST /api/webhooks/clerk/: Clerk's user events, delivered and signed by Svix;
the signature authenticates, each delivery applies once."""

import logging

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
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

from courses import clerk_gateway
from courses.schema import ErrorSerializer
from courses.services.students import (
    HANDLED_EVENT_TYPES,
    DeliveryOutcome,
    clerk_delivery_process,
)

logger = logging.getLogger(__name__)

WebhookAnswer = inline_serializer(
    "ClerkWebhookAnswer", fields={"detail": serializers.CharField()}
)


@extend_schema(
    operation_id="webhooks_clerk",
    summary="Clerk webhook endpoint (user events)",
    description=(
        "Called by Clerk through Svix, not by the frontend. The `svix-id`, "
        "`svix-timestamp` and `svix-signature` headers (signed with "
        "CLERK_WEBHOOK_SIGNING_SECRET over the raw body, at most 5 minutes "
        "old) authenticate the delivery. Each `svix-id` is applied at most "
        "once; repeats answer 200. Handled types: "
        + ", ".join(f"`{name}`" for name in HANDLED_EVENT_TYPES)
        + "; others are acknowledged and ignored."
    ),
    auth=[],
    parameters=[
        OpenApiParameter(name, str, OpenApiParameter.HEADER, required=True)
        for name in clerk_gateway.WEBHOOK_HEADERS
    ],
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        200: OpenApiResponse(WebhookAnswer, description="Processed, or a repeat"),
        400: OpenApiResponse(
            ErrorSerializer, description="Missing, bad or old signature"
        ),
        500: OpenApiResponse(ErrorSerializer, description="Failed; Svix will retry"),
        503: OpenApiResponse(
            ErrorSerializer, description="No webhook signing secret configured"
        ),
    },
    tags=["webhooks"],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def clerk_webhook(request: Request) -> Response:
    # request.data is never read: the signature covers the raw bytes.
    try:
        event = clerk_gateway.webhook_event_parse(
            payload=request.body, headers=request.headers
        )
    except clerk_gateway.WebhookNotConfigured:
        logger.error(
            "Clerk webhook received but CLERK_WEBHOOK_SIGNING_SECRET is not set "
            "(or is not a whsec_ secret)"
        )
        return Response(
            {"detail": _("Webhooks are not configured.")},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    except clerk_gateway.InvalidWebhook as exc:
        logger.warning("Clerk webhook refused: %s", exc)
        return Response(
            {"detail": _("Invalid signature.")}, status=status.HTTP_400_BAD_REQUEST
        )

    outcome = clerk_delivery_process(event=event)
    if outcome == DeliveryOutcome.FAILED:
        return Response(
            {"detail": _("The event could not be processed; it will be retried.")},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return Response({"detail": str(outcome)})
