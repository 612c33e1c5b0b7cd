"""GET /api/health/: is the process up and can it reach its database."""

import logging

from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema, inline_serializer
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

logger = logging.getLogger(__name__)

HealthSerializer = inline_serializer(
    "Health",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
    },
)


def database_is_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health check: database unavailable", exc_info=True)
        # Drop the broken connection so the next request opens a new one.
        connection.close_if_unusable_or_obsolete()
        return False
    return True


@extend_schema(
    auth=[],
    responses={200: HealthSerializer, 503: HealthSerializer},
    summary="Health check",
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def health_check(request: Request) -> Response:
    if database_is_up():
        return Response({"status": "ok", "database": "ok"})
    return Response(
        {"status": "degraded", "database": "unavailable"},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
