"""The learning side over HTTP: the student's enrollments and courses, course
outlines, lessons and their completion. Thin views over selectors and services."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotAuthenticated, NotFound, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from courses.exceptions import EnrollmentRequired
from courses.filters import EnrollmentFilter
from courses.models import Course, Enrollment, Lesson
from courses.schema import (
    EnrollmentRequiredErrorSerializer,
    ErrorSerializer,
    ValidationErrorSerializer,
)
from courses.selectors import (
    course_outline_get,
    enrollment_get_for_student,
    enrollment_list_for_student,
    lesson_access_for,
    lesson_get_published,
    lesson_neighbours,
)
from courses.selectors.catalog import caller_clerk_user_id
from courses.serializers import StudentEnrollmentSerializer
from courses.serializers.learning import (
    CourseOutlineSerializer,
    LessonCompletionSerializer,
    LessonSerializer,
)
from courses.services.learning import lesson_complete, lesson_uncomplete
from courses.views.caching import catalog_answer


@extend_schema_view(
    list=extend_schema(
        summary=_("The caller's paid enrollments; ?status= for others"),
        description=_(
            "Paid enrollments by default, as in the tutorial; `?status=pending` "
            "(failed, expired, refunded, disputed) for one other status, "
            "`?status=all` for every status."
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


# --- Outline, lessons and their completion ----------------------------------------


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


_LESSON_ERRORS = {
    401: _error("Not signed in, and the lesson is not a free preview"),
    403: OpenApiResponse(
        EnrollmentRequiredErrorSerializer,
        description='Signed in without a paid enrollment: code "enrollment_required"',
    ),
    404: _error("No published lesson with this id in an active course"),
}


def _id(description: str) -> OpenApiParameter:
    # The path converter (courses/urls.py) takes digits that fit a BIGINT.
    return OpenApiParameter("id", int, OpenApiParameter.PATH, description=description)


_LESSON_ID = _id("A lesson's id")


def _published_lesson(pk: int) -> Lesson:
    try:
        return lesson_get_published(pk=pk)
    except Lesson.DoesNotExist:
        raise NotFound(_("Lesson not found.")) from None


class CourseOutlineView(APIView):
    """Anonymous answers come from the shared cache (courses/views/caching.py):
    they depend on the course only."""

    permission_classes = [AllowAny]
    cached_query_params = frozenset()

    @extend_schema(
        operation_id="courses_outline",
        parameters=[_id("A course's id")],
        summary=_("A course's sections and published lessons"),
        description=_(
            "Published lessons only, in order (sections by position, lessons by "
            "position within each), without their content. `is_completed` is "
            "false for anonymous callers. Sections with no published lesson "
            "are left out."
        ),
        responses={
            200: CourseOutlineSerializer,
            404: _error("No active course with this id"),
        },
        tags=["learning"],
    )
    @catalog_answer
    def get(self, request: Request, pk: int) -> Response:
        try:
            outline = course_outline_get(
                course_id=pk, clerk_user_id=caller_clerk_user_id(request.user)
            )
        except Course.DoesNotExist:
            raise NotFound(_("Course not found.")) from None
        return Response(CourseOutlineSerializer(outline).data)


class LessonDetailView(APIView):
    """Anyone may open a published preview; any other lesson needs a paid
    enrollment in its course."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="lessons_retrieve",
        parameters=[_LESSON_ID],
        summary=_("A lesson with its content"),
        description=_(
            "A free preview is open to anyone; any other lesson to students with "
            "a paid enrollment in the course. `body_html` is the Markdown `body` "
            "rendered and sanitised. Checked in this order: 404, then 401, then "
            "403."
        ),
        responses={200: LessonSerializer, **_LESSON_ERRORS},
        tags=["learning"],
    )
    def get(self, request: Request, pk: int) -> Response:
        lesson = _published_lesson(pk)
        clerk_user_id = caller_clerk_user_id(request.user)
        access = lesson_access_for(lesson=lesson, clerk_user_id=clerk_user_id)
        if not access.is_open:
            if clerk_user_id is None:
                raise NotAuthenticated
            raise EnrollmentRequired
        lesson.previous_lesson_id, lesson.next_lesson_id = lesson_neighbours(
            lesson=lesson
        )
        lesson.is_completed = access.is_completed
        return Response(LessonSerializer(lesson).data)


class LessonCompletionView(APIView):
    """Mark a lesson complete (POST) or incomplete (DELETE); both idempotent."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="lessons_complete",
        parameters=[_LESSON_ID],
        summary=_("Mark a lesson complete"),
        description=_(
            "Needs a paid enrollment in the course, previews included. Repeating "
            "it changes nothing and answers the same. Takes no body."
        ),
        request=None,
        responses={
            200: LessonCompletionSerializer,
            400: OpenApiResponse(
                ValidationErrorSerializer, description="A body was sent"
            ),
            **_LESSON_ERRORS,
            401: _error("Not signed in"),
        },
        tags=["learning"],
    )
    def post(self, request: Request, pk: int) -> Response:
        data = request.data
        if not isinstance(data, dict) or data:
            raise ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [_("This request takes no body.")]}
            )
        lesson = _published_lesson(pk)
        completion = lesson_complete(
            lesson=lesson, clerk_user_id=request.user.clerk_user_id
        )
        return Response(LessonCompletionSerializer(completion).data)

    @extend_schema(
        operation_id="lessons_uncomplete",
        parameters=[_LESSON_ID],
        summary=_("Mark a lesson incomplete"),
        description=_(
            "Needs a paid enrollment in the course. Repeating it changes nothing."
        ),
        request=None,
        responses={204: None, **_LESSON_ERRORS, 401: _error("Not signed in")},
        tags=["learning"],
    )
    def delete(self, request: Request, pk: int) -> Response:
        lesson = _published_lesson(pk)
        lesson_uncomplete(lesson=lesson, clerk_user_id=request.user.clerk_user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
