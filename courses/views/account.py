"""GET /api/me/: who the Clerk session token says the caller is."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response


class AccountOutputSerializer(serializers.Serializer):
    clerk_user_id = serializers.CharField()
    email = serializers.CharField(
        allow_blank=True, help_text="Primary email; empty when Clerk has none."
    )
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    full_name = serializers.CharField(allow_blank=True)


@extend_schema(
    responses={200: AccountOutputSerializer},
    summary="The signed-in user",
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request: Request) -> Response:
    return Response(AccountOutputSerializer(request.user).data)
