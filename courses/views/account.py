"""GET /api/me/ (who the caller is, from their Student) and GET /api/me/export/
(everything held about the caller, for the right of access)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from courses.selectors.students import student_data_for_export
from courses.serializers.students import (
    AccountOutputSerializer,
    StudentExportSerializer,
)


@extend_schema(
    responses={200: AccountOutputSerializer},
    summary="The signed-in user",
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request: Request) -> Response:
    return Response(AccountOutputSerializer(request.user).data)


@extend_schema(
    operation_id="me_export",
    summary="Everything held about the signed-in user",
    description=(
        "One JSON document for the right of access: the caller's profile as "
        "Clerk last sent it, and every enrollment in their name (amounts, "
        "statuses, dates, Stripe ids, orders, lesson progress, payments kept "
        "for review). Nothing about anyone else. Offered as a file download."
    ),
    parameters=[
        OpenApiParameter(
            "Content-Disposition",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            response=[200],
            description='attachment; filename="my-data.json"',
        )
    ],
    responses={200: OpenApiResponse(StudentExportSerializer)},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me_export(request: Request) -> Response:
    data = student_data_for_export(clerk_user_id=request.user.clerk_user_id)
    response = Response(StudentExportSerializer(data).data)
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response
