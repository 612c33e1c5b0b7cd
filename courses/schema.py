"""OpenAPI schema pieces: the Clerk Bearer scheme and the error responses every
operation can return, added to each operation by AutoSchema."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
)
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """The shape of every error that is not about a field: {"detail": "..."}."""

    detail = serializers.CharField(
        help_text=_("What went wrong, in the caller's language")
    )


class EnrollmentRequiredErrorSerializer(serializers.Serializer):
    """A 403 for a lesson of a course the caller has not paid for."""

    detail = serializers.CharField(
        help_text=_("What went wrong, in the caller's language")
    )
    code = serializers.ChoiceField(
        choices=["enrollment_required"],
        help_text=_("For the frontend: offer to buy the course"),
    )


class ValidationErrorSerializer(serializers.Serializer):
    """A 400: each bad field or query parameter with its messages."""


class ValidationErrorExtension(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            "type": "object",
            "description": str(
                _(
                    "Keys are the names of the bad fields or query parameters "
                    "(or non_field_errors); values are lists of messages. A body "
                    'that is not JSON at all gives {"detail": "..."} instead.'
                )
            ),
            # A malformed body is DRF's ParseError: a plain "detail" string.
            "properties": {"detail": {"type": "string"}},
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"min_price": ["Enter a number."]},
        }


class ClerkAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "courses.authentication.ClerkJWTAuthentication"
    name = "ClerkBearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scheme = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        scheme["description"] = str(
            _("A Clerk session token: `await getToken()` from Clerk's useAuth().")
        )
        return scheme


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema plus the error responses of each operation.

    A view's own @extend_schema responses win over these defaults.
    """

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        if self._is_catalog_answer() and "304" not in responses:
            responses["304"] = self._get_response_for_code(
                OpenApiResponse(
                    description=_(
                        "Not modified: If-None-Match names the answer's current "
                        "ETag (anonymous callers); no body"
                    )
                ),
                "304",
                direction=direction,
            )
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    response, code, direction=direction
                )
        return responses

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        errors: dict[str, OpenApiResponse] = {}
        takes_input = self.method in ("POST", "PUT", "PATCH") or bool(
            self._get_filter_parameters() or self._get_pagination_parameters()
        )
        if takes_input:
            errors["400"] = OpenApiResponse(
                ValidationErrorSerializer, _("Invalid body or query parameter")
            )
        if self.view.get_authenticators():
            errors["401"] = OpenApiResponse(
                ErrorSerializer,
                _("Missing, invalid or expired token")
                if self._requires_sign_in()
                else _("Invalid or expired token (the header is optional)"),
            )
        if "{" in self.path or self._get_pagination_parameters():
            errors["404"] = OpenApiResponse(ErrorSerializer, _("Not found"))
        if self.method in ("POST", "PUT", "PATCH"):
            # courses.middleware.ApiInputGuardMiddleware, before any view.
            errors["413"] = OpenApiResponse(
                ErrorSerializer, _("Request body over DATA_UPLOAD_MAX_MEMORY_SIZE")
            )
        if self.view.get_throttles():
            errors["429"] = OpenApiResponse(
                ErrorSerializer, _("Too many requests; see Retry-After")
            )
        errors["503"] = OpenApiResponse(
            ErrorSerializer,
            _("Database or Clerk unreachable for now; see Retry-After")
            if self.view.get_authenticators()
            else _("Database temporarily unavailable; see Retry-After"),
        )
        return errors

    def _is_catalog_answer(self) -> bool:
        """A handler wrapped by courses.views.caching.catalog_answer."""
        action = getattr(self.view, "action", None) or self.method.lower()
        handler = getattr(self.view, action, None)
        return getattr(handler, "is_catalog_answer", False)

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._is_catalog_answer():
            parameters.append(
                OpenApiParameter(
                    "If-None-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description=_(
                        "The ETag of a copy already held: 304 if it is still "
                        "current (anonymous callers)"
                    ),
                )
            )
        return parameters

    def _requires_sign_in(self) -> bool:
        return not all(
            isinstance(permission, AllowAny)
            for permission in self.view.get_permissions()
        )

    def _get_response_headers_for_code(
        self, status_code: str, direction: str = "response"
    ) -> dict[str, Any]:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if status_code in ("200", "304") and self._is_catalog_answer():
            headers.setdefault(
                "ETag",
                {
                    "schema": {"type": "string"},
                    "description": str(
                        _("The answer's version, for If-None-Match (anonymous callers)")
                    ),
                },
            )
            headers.setdefault(
                "Cache-Control",
                {
                    "schema": {"type": "string"},
                    "description": str(
                        _(
                            "Anonymous: public, max-age and stale-while-revalidate "
                            "(CATALOG_HTTP_*); signed in: private, no-store"
                        )
                    ),
                },
            )
        if status_code == "429":
            headers.setdefault(
                "Retry-After",
                {
                    "schema": {"type": "integer"},
                    "description": str(_("Seconds to wait before retrying")),
                },
            )
        return headers
