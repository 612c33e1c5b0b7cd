"""The student's enrollments: thin read-only views over selectors."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from courses.filters import EnrollmentFilter
from courses.models import Enrollment
from courses.selectors import enrollment_get_for_student, enrollment_list_for_student
from courses.serializers import StudentEnrollmentSerializer


@extend_schema_view(
    list=extend_schema(
        summary=_("The caller's paid enrollments; ?status= for others"),
        description=_(
            "Paid enrollments by default, as in the tutorial; `?status=pending` "
            "(failed, expired, refunded) for one other status, `?status=all` "
            "for every status."
        ),
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=[value for value, _label in EnrollmentFilter.STATUS_CHOICES],
                default=EnrollmentFilter.defaults["status"],
                description=_("Payment status (default: paid); all: every status"),
            )
        ],
    ),
    retrieve=extend_schema(summary=_("One of the caller's enrollments")),
)
class EnrollmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The caller's own enrollments; anyone else's id is a 404, like a missing one."""

    serializer_class = StudentEnrollmentSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = EnrollmentFilter
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Enrollment.objects.none()
        return enrollment_list_for_student(
            clerk_user_id=self.request.user.clerk_user_id
        )

    def get_object(self) -> Enrollment:
        try:
            enrollment = enrollment_get_for_student(
                clerk_user_id=self.request.user.clerk_user_id, pk=self.kwargs["pk"]
            )
        except Enrollment.DoesNotExist:
            raise NotFound(_("Enrollment not found.")) from None
        self.check_object_permissions(self.request, enrollment)
        return enrollment


@extend_schema(
    summary=_("The caller's paid courses"),
    responses=StudentEnrollmentSerializer(many=True),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def my_courses(request: Request) -> Response:
    """The tutorial's my-courses: paid enrollments with the course, not paginated."""
    enrollments = enrollment_list_for_student(
        clerk_user_id=request.user.clerk_user_id, paid_only=True
    )
    return Response(StudentEnrollmentSerializer(enrollments, many=True).data)
