"""GET /api/config/: what the React app needs to start, from the server's settings.

Publishable keys only (they are meant for browsers); never a secret. Built from
settings alone: no database query, no authentication, no throttle.
"""

from django.conf import settings
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

# Browsers and CDNs may reuse the answer this long; it changes only on a deploy.
CONFIG_MAX_AGE_SECONDS = 300


class LanguageSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("For the Accept-Language header"))
    name = serializers.CharField(help_text=_("The language's name in itself"))


class FrontendConfigOutputSerializer(serializers.Serializer):
    stripe_publishable_key = serializers.CharField(
        allow_blank=True,
        help_text=_("STRIPE_PUBLISHABLE_KEY (pk_...), for Stripe.js; empty if unset"),
    )
    clerk_publishable_key = serializers.CharField(
        allow_blank=True,
        help_text=_(
            "CLERK_PUBLISHABLE_KEY (pk_...), for ClerkProvider; empty if unset"
        ),
    )
    currency = serializers.CharField(
        help_text=_("Currency of every price (ISO 4217, lower case)")
    )
    default_language = serializers.CharField(
        help_text=_("Language of the answers without Accept-Language")
    )
    languages = LanguageSerializer(many=True)


@extend_schema(
    auth=[],
    summary=_("Public configuration for the frontend"),
    description=_(
        "Stripe's and Clerk's publishable keys, the currency and the supported "
        "languages; no secret."
    ),
    responses={200: FrontendConfigOutputSerializer},
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def frontend_config(request: Request) -> Response:
    data = {
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "clerk_publishable_key": settings.CLERK_PUBLISHABLE_KEY,
        "currency": settings.STRIPE_CURRENCY,
        "default_language": settings.LANGUAGE_CODE,
        "languages": [
            {"code": code, "name": get_language_info(code)["name_local"]}
            for code, _name in settings.LANGUAGES
        ],
    }
    response = Response(FrontendConfigOutputSerializer(data).data)
    response["Cache-Control"] = f"public, max-age={CONFIG_MAX_AGE_SECONDS}"
    return response
