"""Page-number pagination: `{count, next, previous, results}`, 20 a page, up to 100.

Bad `page` and `page_size` values (empty or repeated ones included) are a 400
naming the parameter (DRF's own pagination silently falls back to the default).
The public catalog's `count`
comes from the cache, so that a page costs the same with 1,000 courses as with
100,000 (see CatalogPagination), and a deep page costs what the first one
does (see _rows).
"""

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import InvalidPage
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_filters import OrderingFilter
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

DEFAULT_COUNT_CACHE_SECONDS = 60


def single_query_param(request: Request, name: str) -> str | None:
    """The parameter's value; a 400 naming it when it is given more than once.

    QueryDict.get() silently keeps the last of `?page=1&page=2`, so a client
    could not tell which one was used.
    """
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ValidationError({name: [_("Give this parameter only once.")]})
    return values[0] if values else None


def _whole_number(raw: str) -> int | None:
    # str.isdigit() accepts "²" and int() accepts " 1_0 ": neither is a page.
    if not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


class CachedCountPaginator(DjangoPaginator):
    """A paginator whose count may come from the cache.

    A cached count can be a little stale, so a page is never cut short to it:
    the page holds up to `per_page` rows whatever the count says.
    """

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        *,
        count_cache_key: str | None = None,
        count_cache_seconds: int = 0,
    ) -> None:
        super().__init__(object_list, per_page)
        self.count_cache_key = count_cache_key
        self.count_cache_seconds = count_cache_seconds

    @cached_property
    def count(self) -> int:
        if not self.count_cache_key or self.count_cache_seconds <= 0:
            return self.object_list.count()
        return cache.get_or_set(
            self.count_cache_key,
            self.object_list.count,
            timeout=self.count_cache_seconds,
        )

    def page(self, number: Any):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(
            _rows(self.object_list, bottom, bottom + self.per_page), number, self
        )


def _rows(object_list: Any, bottom: int, top: int) -> Any:
    """Rows bottom to top of `object_list`, in its order.

    Past the first page, a queryset's page is selected by id first: with
    OFFSET, the database computes every column of the rows it skips, the
    correlated subqueries of annotations (the catalog's enrollment count)
    included, so page 200 cost 4,000 subqueries for 20 rows. The ids alone
    come from the ordering's index (an index-only scan), then the annotated
    rows are read for those ids only: one query still, as cheap at page 200
    as at page 1.
    """
    if bottom == 0 or not isinstance(object_list, QuerySet):
        return object_list[bottom:top]
    page_ids = object_list.values("pk")[bottom:top]
    return object_list.filter(pk__in=page_ids)


class StandardPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    django_paginator_class = CachedCountPaginator

    def get_page_size(self, request: Request) -> int:
        raw = single_query_param(request, self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = _whole_number(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        _("Enter a whole number from 1 to %(max)d.")
                        % {"max": self.max_page_size}
                    ]
                }
            )
        return size

    def get_page_number(self, request: Request, paginator: DjangoPaginator) -> Any:
        raw = single_query_param(request, self.page_query_param)
        if raw is None:
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        number = _whole_number(raw)
        if number is None or number < 1:
            raise ValidationError(
                {
                    self.page_query_param: [
                        _("Enter a whole number of 1 or more, or “last”.")
                    ]
                }
            )
        return number

    def get_count_cache_key(self, request: Request, view: Any) -> str | None:
        """None: count with the database on every request."""
        return None

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        page_size = self.get_page_size(request)
        paginator = self.django_paginator_class(
            queryset,
            page_size,
            count_cache_key=self.get_count_cache_key(request, view),
            count_cache_seconds=getattr(
                settings, "CATALOG_COUNT_CACHE_SECONDS", DEFAULT_COUNT_CACHE_SECONDS
            ),
        )
        page_number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise NotFound(
                self.invalid_page_message.format(
                    page_number=page_number, message=str(exc)
                )
            ) from exc
        return list(self.page)


class CatalogPagination(StandardPagination):
    """The public catalog: the count is cached per combination of filters.

    COUNT(*) over every matching course grows with the catalog while the page
    itself (an index walk with LIMIT) does not. The count is shared by every
    caller for CATALOG_COUNT_CACHE_SECONDS: a course added or withdrawn shows
    in `results` at once but in `count` (and `next`) up to that long after.
    """

    def get_count_cache_key(self, request: Request, view: Any) -> str | None:
        filterset_class = getattr(view, "filterset_class", None)
        names = sorted(
            name
            for name, field in (
                filterset_class.base_filters.items() if filterset_class else ()
            )
            if not isinstance(field, OrderingFilter)
        )
        # Only the filters change the count: not the page, its size or the order.
        normalized = [
            (
                name,
                sorted(value for value in request.query_params.getlist(name) if value),
            )
            for name in names
        ]
        digest = hashlib.sha256(repr(normalized).encode()).hexdigest()
        return f"catalog-count:{type(view).__name__}:{digest}"
