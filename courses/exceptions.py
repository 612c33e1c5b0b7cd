"""API errors with a stable JSON shape: {"detail": "..."} (DRF's own form).

An error whose class sets `exposes_code` also carries {"code": "..."}, for the
frontend to act on (EnrollmentRequired: show the "buy this course" button).
"""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.response import Response

logger = logging.getLogger(__name__)

# Long enough for a restarted or failed-over database to come back.
DATABASE_RETRY_AFTER_SECONDS = 5


class ServiceUnavailable(APIException):
    """A dependency we need (database, Clerk, Stripe configuration) is not available."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The service is temporarily unavailable. Try again shortly.")
    default_code = "service_unavailable"


class BadGateway(APIException):
    """An upstream provider (Stripe, Clerk) answered with an error or not at all."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = _("The payment provider could not be reached. Try again shortly.")
    default_code = "bad_gateway"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The request conflicts with the current state.")
    default_code = "conflict"


class EnrollmentRequired(PermissionDenied):
    """Signed in, but without a paid enrollment in the lesson's course."""

    default_detail = _("This lesson is only open to students who bought the course.")
    default_code = "enrollment_required"
    exposes_code = True


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: a lost database is a 503 with a retry hint, not a 500.

    Everything else DRF does not handle re-raises and reaches handler500.
    """
    # Imported here: this module is imported by the authentication class,
    # which DRF loads while rest_framework.views is still being imported.
    from rest_framework.views import exception_handler

    if isinstance(exc, OperationalError | InterfaceError):
        # The message can hold host names and credentials: log it, never send it.
        logger.error("Database unavailable: %s", type(exc).__name__, exc_info=exc)
        exc = ServiceUnavailable()
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, ServiceUnavailable):
        response.headers.setdefault("Retry-After", str(DATABASE_RETRY_AFTER_SECONDS))
    if response is not None and getattr(exc, "exposes_code", False):
        response.data["code"] = exc.default_code
    return response


def handler404(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    """JSON for a URL that matches no route (DRF views answer their own 404s)."""
    return JsonResponse({"detail": str(NotFound.default_detail)}, status=404)


def handler500(request: HttpRequest) -> JsonResponse:
    """JSON for an unhandled exception; the traceback goes to the log only."""
    return JsonResponse(
        {"detail": str(_("A server error occurred. Try again later."))}, status=500
    )
