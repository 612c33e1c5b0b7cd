"""API errors with a stable JSON shape: {"detail": "..."} (DRF's own form)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


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
