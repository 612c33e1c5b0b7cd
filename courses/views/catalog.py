"""The public catalog: thin read-only views over selectors."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from courses.filters import CourseFilter
from courses.models import Course
from courses.pagination import CatalogPagination
from courses.selectors import (
    course_get_public,
    course_list_public,
)
from courses.serializers import (
    CourseListSerializer,
    CourseSerializer,
)
from courses.views.caching import catalog_answer


@extend_schema_view(
    list=extend_schema(summary=_("List active courses")),
    retrieve=extend_schema(summary=_("A course by id")),
)
class CourseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Active courses, public; `is_enrolled` is true only for a signed-in caller
    who has paid for the course. Anonymous answers come from the shared cache
    (courses/views/caching.py)."""

    permission_classes = [AllowAny]
    filterset_class = CourseFilter
    pagination_class = CatalogPagination
    # Non-numeric ids never reach the database: the URL does not match (404).
    lookup_value_regex = r"[0-9]+"
    # What the list reads; an anonymous answer to a URL with any other query
    # parameter is computed every time rather than cached.
    cached_query_params = frozenset(
        {
            CatalogPagination.page_query_param,
            CatalogPagination.page_size_query_param,
            *CourseFilter.base_filters,
        }
    )

    @catalog_answer
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @catalog_answer
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def get_queryset(self):
        return course_list_public(user=self.request.user)

    def get_serializer_class(self):
        if self.action == "list":
            return CourseListSerializer
        return CourseSerializer

    def get_object(self) -> Course:
        try:
            course = course_get_public(
                user=self.request.user,
                pk=self.kwargs.get("pk"),
                slug=self.kwargs.get("slug"),
            )
        except Course.DoesNotExist:
            raise NotFound(_("Course not found.")) from None
        self.check_object_permissions(self.request, course)
        return course

    @extend_schema(summary=_("A course by slug"), responses=CourseSerializer)
    @action(detail=False, url_path=r"slug/(?P<slug>[-\w]+)", filter_backends=[])
    @catalog_answer
    def slug(self, request: Request, slug: str) -> Response:
        # DRF's retrieve, not this class's: the answer is cached once, here.
        return mixins.RetrieveModelMixin.retrieve(self, request, slug=slug)
