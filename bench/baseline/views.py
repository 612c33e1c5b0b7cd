"""Course list and detail with `.values()` and JsonResponse: no DRF, no auth."""

import time

from django.db.models import F
from django.http import Http404, HttpRequest, JsonResponse

from courses.models import Course

PAGE_SIZE = 20
# The API's list fields (courses/serializers/catalog.py), and the detail's;
# is_enrolled, always false without sign-in, is added to both.
LIST_FIELDS = (
    "id",
    "title",
    "slug",
    "price",
    "instructor_name",
    "duration_hours",
    "thumbnail_url",
    "enrollment_count",
)
DETAIL_FIELDS = (
    "id",
    "title",
    "description",
    "slug",
    "price",
    "is_active",
    "instructor_name",
    "duration_hours",
    "thumbnail_url",
    "enrollment_count",
    "lesson_count",
    "duration_seconds",
    "created_at",
    "updated_at",
)
# Annotations of CourseQuerySet, under the API's names.
ANNOTATED = {
    "enrollment_count": F("paid_enrollment_count"),
    "lesson_count": F("published_lesson_count"),
    "duration_seconds": F("published_lesson_seconds"),
}
COUNT_TTL_SECONDS = 60

# The total is counted once a minute per process: the baseline pays for no
# per-request COUNT, so that it stays the ceiling whatever the API chooses.
_count_cache: dict[str, float | int] = {"at": 0.0, "value": 0}


def _active_count() -> int:
    now = time.monotonic()
    if now - _count_cache["at"] > COUNT_TTL_SECONDS:
        _count_cache["value"] = Course.objects.filter(is_active=True).count()
        _count_cache["at"] = now
    return int(_count_cache["value"])


def _catalog(fields: tuple[str, ...]):
    """Active courses, newest first, as dicts of `fields` (annotations last)."""
    courses = Course.objects.active().with_enrollment_count()
    if "lesson_count" in fields:
        courses = courses.with_lesson_totals()
    return courses.order_by("-created_at", "-id").values(
        *(f for f in fields if f not in ANNOTATED),
        **{name: value for name, value in ANNOTATED.items() if name in fields},
    )


def course_list(request: HttpRequest) -> JsonResponse:
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404 from None
    if page < 1:
        raise Http404
    count = _active_count()
    offset = (page - 1) * PAGE_SIZE
    results = list(_catalog(LIST_FIELDS)[offset : offset + PAGE_SIZE])
    if not results and page != 1:
        raise Http404
    for course in results:
        course["is_enrolled"] = False
    base = request.build_absolute_uri(request.path)
    has_next = offset + PAGE_SIZE < count
    return JsonResponse(
        {
            "count": count,
            "next": f"{base}?page={page + 1}" if has_next else None,
            "previous": f"{base}?page={page - 1}" if page > 1 else None,
            "results": results,
        }
    )


def course_detail(request: HttpRequest, pk: int) -> JsonResponse:
    course = _catalog(DETAIL_FIELDS).filter(pk=pk).first()
    if course is None:
        raise Http404
    course["is_enrolled"] = False
    return JsonResponse(course)
