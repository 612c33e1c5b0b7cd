"""Query-string filters for the catalog and the student's enrollments (django-filter).

A bad value is a form error, which DjangoFilterBackend turns into a 400
naming the parameter.
"""

from typing import Any

from django.db import models
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.constants import EMPTY_VALUES
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from courses.models import Course, Enrollment
from courses.pagination import single_query_param


class FilterBackend(filters.DjangoFilterBackend):
    """DjangoFilterBackend that skips building the filter form when the request
    has none of its parameters (the catalog's plain first page, the hot path)."""

    def filter_queryset(
        self, request: Request, queryset: models.QuerySet, view: Any
    ) -> models.QuerySet:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = tuple(filterset_class.base_filters)
        # A multi-value filter (a range) reads `<name>_min`-style parameters.
        prefixes = tuple(f"{name}_" for name in names)
        if not getattr(filterset_class, "defaults", None) and not any(
            param in names or param.startswith(prefixes)
            for param in request.query_params
        ):
            return queryset
        for name, declared in filterset_class.base_filters.items():
            value = single_query_param(request, name)
            # django-filter reads `?status=` as "not given"; the schema says a
            # status is one of its choices, so an empty one is refused like
            # any other bad value. Only free text may be empty.
            if value == "" and not isinstance(declared, filters.CharFilter):
                raise ValidationError({name: [_("This field may not be blank.")]})
        return super().filter_queryset(request, queryset, view)


class CourseOrderingFilter(filters.OrderingFilter):
    """Adds `id` in the direction of the first field, so that equal values page
    deterministically and the default order walks `course_active_newest_idx`."""

    def filter(self, qs: models.QuerySet, value: list[str] | None) -> models.QuerySet:
        if not value:
            return qs
        # "?ordering=price," holds an empty field name: order_by("") would
        # raise FieldError (a 500).
        if any(param in EMPTY_VALUES for param in value):
            raise ValidationError(
                {self.field_name: [_("This field may not be blank.")]}
            )
        fields = [self.get_ordering_value(param) for param in value]
        tiebreak = "-id" if fields[0].startswith("-") else "id"
        return qs.order_by(*fields, tiebreak)


class CourseFilter(filters.FilterSet):
    instructor = filters.CharFilter(
        field_name="instructor_name",
        lookup_expr="icontains",
        label=_("Instructor name contains (case-insensitive)"),
    )
    search = filters.CharFilter(
        method="filter_search",
        label=_("Title or description contains (case-insensitive)"),
    )
    min_price = filters.NumberFilter(
        field_name="price", lookup_expr="gte", label=_("Minimum price")
    )
    max_price = filters.NumberFilter(
        field_name="price", lookup_expr="lte", label=_("Maximum price")
    )
    ordering = CourseOrderingFilter(
        fields=(("price", "price"), ("created_at", "created_at"), ("title", "title")),
        label=_("Sort order (default: newest first)"),
    )

    class Meta:
        model = Course
        fields = ["instructor", "search", "min_price", "max_price", "ordering"]

    def filter_search(
        self, queryset: models.QuerySet, name: str, value: str
    ) -> models.QuerySet:
        return queryset.filter(
            models.Q(title__icontains=value) | models.Q(description__icontains=value)
        )


class EnrollmentFilter(filters.FilterSet):
    """`?status=`: paid by default (the tutorial's list), `all` for every status."""

    ALL = "all"
    STATUS_CHOICES = [*Enrollment.Status.choices, (ALL, _("Every status"))]

    status = filters.ChoiceFilter(
        choices=STATUS_CHOICES,
        method="filter_status",
        label=_("Payment status (default: paid); all: every status"),
    )

    # Applied when the request does not name the parameter.
    defaults = {"status": Enrollment.Status.PAID}

    class Meta:
        model = Enrollment
        fields = ["status"]

    def __init__(self, data: QueryDict | None = None, *args: Any, **kwargs: Any):
        if data is not None:
            data = data.copy()
            for name, value in self.defaults.items():
                data.setdefault(name, value)
        super().__init__(data, *args, **kwargs)

    def filter_status(
        self, queryset: models.QuerySet, name: str, value: str
    ) -> models.QuerySet:
        return queryset if value == self.ALL else queryset.filter(status=value)
