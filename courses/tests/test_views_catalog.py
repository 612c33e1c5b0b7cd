"""The catalog, my-courses and enrollment endpoints over HTTP, with real rows."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from courses.authentication import ClerkUser
from courses.models import Course, Enrollment
from courses.tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id",
    "title",
    "slug",
    "price",
    "instructor_name",
    "duration_hours",
    "thumbnail_url",
    "enrollment_count",
    "is_enrolled",
}
DETAIL_FIELDS = LIST_FIELDS | {
    "description",
    "is_active",
    "lesson_count",
    "duration_seconds",
    "created_at",
    "updated_at",
}


@pytest.fixture
def student() -> ClerkUser:
    return ClerkUser(
        clerk_user_id="user_student", email="student@example.com", first_name="Ana"
    )


@pytest.fixture
def student_client(api_client, student):
    api_client.force_authenticate(user=student)
    return api_client


def _created(course: Course, minutes_ago: int) -> Course:
    moment = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    Course.objects.filter(pk=course.pk).update(created_at=moment)
    return course


def _titles(response) -> list[str]:
    return [row["title"] for row in response.json()["results"]]


# --- GET /api/courses/ ---------------------------------------------------------


def test_course_list_shows_active_courses_newest_first_with_the_list_fields(
    api_client,
):
    old = _created(CourseFactory(title="Old"), minutes_ago=30)
    new = _created(CourseFactory(title="New"), minutes_ago=1)
    CourseFactory(title="Withdrawn", is_active=False)

    response = api_client.get("/api/courses/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None
    assert body["previous"] is None
    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]
    assert set(body["results"][0]) == LIST_FIELDS
    assert body["results"][0]["price"] == "49.99"


def test_course_list_breaks_ties_on_created_at_by_id_descending(api_client):
    courses = CourseFactory.create_batch(3)
    Course.objects.update(created_at=timezone.now())

    response = api_client.get("/api/courses/")

    assert [row["id"] for row in response.json()["results"]] == sorted(
        (course.pk for course in courses), reverse=True
    )


def test_course_list_pages_twenty_by_default_and_page_size_up_to_100(api_client):
    CourseFactory.create_batch(25)

    first = api_client.get("/api/courses/")
    second = api_client.get("/api/courses/?page=2")
    small = api_client.get("/api/courses/?page_size=10&page=3")
    largest = api_client.get("/api/courses/?page_size=100")

    assert len(first.json()["results"]) == 20
    assert first.json()["next"].endswith("/api/courses/?page=2")
    assert len(second.json()["results"]) == 5
    assert second.json()["previous"] is not None
    assert len(small.json()["results"]) == 5
    assert largest.json()["count"] == 25
    assert len(largest.json()["results"]) == 25


def test_course_list_counts_paid_enrollments_only(api_client):
    course = CourseFactory()
    EnrollmentFactory.create_batch(3, course=course, paid=True)
    EnrollmentFactory(course=course)
    EnrollmentFactory(course=course, status=Enrollment.Status.REFUNDED)

    response = api_client.get("/api/courses/")

    assert response.json()["results"][0]["enrollment_count"] == 3


def test_course_list_marks_only_the_callers_paid_courses_as_enrolled(
    student_client, student
):
    paid = CourseFactory(title="Paid")
    pending = CourseFactory(title="Pending")
    other = CourseFactory(title="Someone else's")
    EnrollmentFactory(course=paid, clerk_user_id=student.clerk_user_id, paid=True)
    EnrollmentFactory(course=pending, clerk_user_id=student.clerk_user_id)
    EnrollmentFactory(course=other, clerk_user_id="user_other", paid=True)

    response = student_client.get("/api/courses/")

    enrolled = {row["title"]: row["is_enrolled"] for row in response.json()["results"]}
    assert enrolled == {"Paid": True, "Pending": False, "Someone else's": False}


def test_course_list_is_never_enrolled_for_an_anonymous_caller(api_client):
    EnrollmentFactory(paid=True)

    response = api_client.get("/api/courses/")

    assert response.json()["results"][0]["is_enrolled"] is False


def test_course_list_filters_by_instructor_case_insensitively(api_client):
    CourseFactory(title="A", instructor_name="Marie Dupont")
    CourseFactory(title="B", instructor_name="Jean Martin")

    response = api_client.get("/api/courses/?instructor=DUPO")

    assert _titles(response) == ["A"]


def test_course_list_searches_title_and_description(api_client):
    CourseFactory(title="Django Avancé", description="Web")
    CourseFactory(title="React", description="Interfaces with django REST")
    CourseFactory(title="Rust", description="Systems")

    response = api_client.get("/api/courses/?search=DJANGO&ordering=title")

    assert _titles(response) == ["Django Avancé", "React"]


def test_course_list_filters_by_price_range(api_client):
    for price in ("10.00", "49.99", "99.99"):
        CourseFactory(title=price, price=Decimal(price))

    both = api_client.get("/api/courses/?min_price=20&max_price=99.98")
    at_least = api_client.get("/api/courses/?min_price=49.99&ordering=price")

    assert _titles(both) == ["49.99"]
    assert _titles(at_least) == ["49.99", "99.99"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["cheap", "twin-1", "twin-2", "dear"]),
        ("-price", ["dear", "twin-2", "twin-1", "cheap"]),
        ("title", ["cheap", "dear", "twin-1", "twin-2"]),
        ("-title", ["twin-2", "twin-1", "dear", "cheap"]),
        ("created_at", ["dear", "cheap", "twin-1", "twin-2"]),
        ("-created_at", ["twin-2", "twin-1", "cheap", "dear"]),
    ],
)
def test_course_list_orders_by_each_field_with_id_as_tiebreak(
    api_client, ordering, expected
):
    _created(CourseFactory(title="dear", price=Decimal("90")), minutes_ago=40)
    _created(CourseFactory(title="cheap", price=Decimal("5")), minutes_ago=30)
    twins = [CourseFactory(title=f"twin-{n}", price=Decimal("20")) for n in (1, 2)]
    Course.objects.filter(pk__in=[t.pk for t in twins]).update(
        created_at=timezone.now()
    )

    response = api_client.get(f"/api/courses/?ordering={ordering}")

    assert _titles(response) == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("min_price=abc", "min_price"),
        ("max_price=1e", "max_price"),
        ("min_price=NaN", "min_price"),
        ("ordering=evil", "ordering"),
        ("ordering=-id", "ordering"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page_size=1000", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_size=ten", "page_size"),
    ],
)
def test_course_list_rejects_a_bad_parameter_with_400_naming_it(
    api_client, query, parameter
):
    CourseFactory()

    response = api_client.get(f"/api/courses/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == [parameter]
    assert isinstance(body[parameter], list)
    assert all(isinstance(message, str) for message in body[parameter])


def test_course_list_page_past_the_end_is_a_json_404(api_client):
    CourseFactory()

    response = api_client.get("/api/courses/?page=2")

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_course_list_last_page_by_name(api_client):
    CourseFactory.create_batch(3)

    response = api_client.get("/api/courses/?page_size=2&page=last")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_course_list_reuses_the_count_but_shows_new_courses_at_once(api_client):
    CourseFactory.create_batch(2)
    api_client.get("/api/courses/")
    CourseFactory(title="Brand new")

    response = api_client.get("/api/courses/")

    body = response.json()
    assert body["count"] == 2  # shared for CATALOG_COUNT_CACHE_SECONDS
    assert "Brand new" in _titles(response)
    assert len(body["results"]) == 3


def test_course_list_counts_each_filter_combination_separately(api_client):
    CourseFactory(instructor_name="Marie")
    CourseFactory(instructor_name="Jean")
    api_client.get("/api/courses/")

    filtered = api_client.get("/api/courses/?instructor=marie")

    assert filtered.json()["count"] == 1


def test_course_list_counts_every_time_when_the_cache_is_off(api_client, settings):
    settings.CATALOG_COUNT_CACHE_SECONDS = 0
    CourseFactory()
    api_client.get("/api/courses/")
    CourseFactory()

    response = api_client.get("/api/courses/")

    assert response.json()["count"] == 2


# --- GET /api/courses/{id}/ and /api/courses/slug/{slug}/ ------------------------


def test_course_detail_by_id_has_the_detail_fields(api_client):
    course = CourseFactory(description="Everything about Django.")
    EnrollmentFactory(course=course, paid=True)
    EnrollmentFactory(course=course)

    response = api_client.get(f"/api/courses/{course.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert body["description"] == "Everything about Django."
    assert body["enrollment_count"] == 1
    assert body["is_enrolled"] is False


def test_course_detail_by_slug(api_client):
    course = CourseFactory(slug="django-avance")

    response = api_client.get("/api/courses/slug/django-avance/")

    assert response.status_code == 200
    assert response.json()["id"] == course.pk


def test_course_detail_is_enrolled_only_once_paid(student_client, student):
    course = CourseFactory()
    enrollment = EnrollmentFactory(course=course, clerk_user_id=student.clerk_user_id)
    before = student_client.get(f"/api/courses/{course.pk}/").json()["is_enrolled"]
    enrollment.mark_as_paid()

    after = student_client.get(f"/api/courses/slug/{course.slug}/")

    assert before is False
    assert after.json()["is_enrolled"] is True
    assert after.json()["enrollment_count"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/courses/{inactive_id}/",
        "/api/courses/slug/{inactive_slug}/",
        "/api/courses/999999/",
        "/api/courses/99999999999999999999999/",
        "/api/courses/slug/no-such-course/",
        "/api/courses/abc/",
    ],
)
def test_course_detail_of_an_inactive_or_unknown_course_is_a_json_404(api_client, path):
    inactive = CourseFactory(is_active=False)

    response = api_client.get(
        path.format(inactive_id=inactive.pk, inactive_slug=inactive.slug)
    )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


# --- GET /api/my-courses/ -----------------------------------------------------------


def test_my_courses_lists_the_callers_paid_courses_with_the_course_nested(
    student_client, student
):
    paid = EnrollmentFactory(clerk_user_id=student.clerk_user_id, paid=True)
    EnrollmentFactory(course=paid.course, paid=True)
    EnrollmentFactory(clerk_user_id=student.clerk_user_id)  # pending: not owned
    EnrollmentFactory(paid=True)  # someone else's

    response = student_client.get("/api/my-courses/")

    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body] == [paid.pk]
    assert set(body[0]) == {
        "id",
        "course",
        "price_paid",
        "is_paid",
        "status",
        "enrolled_at",
        "paid_at",
        "progress",
    }
    assert body[0]["is_paid"] is True
    assert set(body[0]["course"]) == DETAIL_FIELDS
    assert body[0]["course"]["id"] == paid.course.pk
    assert body[0]["course"]["enrollment_count"] == 2
    assert body[0]["course"]["is_enrolled"] is True


def test_my_courses_needs_a_signed_in_caller(api_client):
    response = api_client.get("/api/my-courses/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert set(response.json()) == {"detail"}


# --- GET /api/enrollments/ and /api/enrollments/{id}/ ------------------------------


def test_enrollment_list_shows_only_the_callers_paid_enrollments_by_default(
    student_client, student
):
    older = EnrollmentFactory(clerk_user_id=student.clerk_user_id, paid=True)
    EnrollmentFactory(clerk_user_id=student.clerk_user_id)
    EnrollmentFactory(
        clerk_user_id=student.clerk_user_id, status=Enrollment.Status.REFUNDED
    )
    newer = EnrollmentFactory(clerk_user_id=student.clerk_user_id, paid=True)
    EnrollmentFactory(paid=True)

    response = student_client.get("/api/enrollments/")

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [row["id"] for row in response.json()["results"]] == [newer.pk, older.pk]
    assert {row["status"] for row in response.json()["results"]} == {"paid"}


def test_enrollment_list_with_status_all_shows_every_status_newest_first(
    student_client, student
):
    pending = EnrollmentFactory(clerk_user_id=student.clerk_user_id)
    paid = EnrollmentFactory(clerk_user_id=student.clerk_user_id, paid=True)
    EnrollmentFactory(paid=True)

    response = student_client.get("/api/enrollments/?status=all")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [paid.pk, pending.pk]
    rows = {row["id"]: row for row in body["results"]}
    assert rows[paid.pk]["course"]["is_enrolled"] is True
    assert rows[paid.pk]["course"]["enrollment_count"] == 1
    assert rows[pending.pk]["status"] == "pending"
    assert rows[pending.pk]["course"]["is_enrolled"] is False


def test_enrollment_list_filters_by_status(student_client, student):
    pending = EnrollmentFactory(clerk_user_id=student.clerk_user_id)
    paid = EnrollmentFactory(clerk_user_id=student.clerk_user_id, paid=True)

    response = student_client.get("/api/enrollments/?status=paid")
    pending_only = student_client.get("/api/enrollments/?status=pending")
    bad = student_client.get("/api/enrollments/?status=stolen")
    empty = student_client.get("/api/enrollments/?status=")

    assert [row["id"] for row in response.json()["results"]] == [paid.pk]
    assert [row["id"] for row in pending_only.json()["results"]] == [pending.pk]
    assert bad.status_code == 400
    assert list(bad.json()) == ["status"]
    assert empty.status_code == 400


def test_enrollment_detail_shows_the_callers_own_enrollment(student_client, student):
    enrollment = EnrollmentFactory(clerk_user_id=student.clerk_user_id, paid=True)

    response = student_client.get(f"/api/enrollments/{enrollment.pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == enrollment.pk
    assert response.json()["course"]["slug"] == enrollment.course.slug


def test_enrollment_detail_of_someone_elses_enrollment_is_a_404(student_client):
    theirs = EnrollmentFactory(clerk_user_id="user_other", paid=True)

    response = student_client.get(f"/api/enrollments/{theirs.pk}/")
    missing = student_client.get("/api/enrollments/999999/")

    assert response.status_code == 404
    assert response.json() == missing.json()


@pytest.mark.parametrize("path", ["/api/enrollments/", "/api/enrollments/1/"])
def test_enrollments_need_a_signed_in_caller(api_client, path):
    EnrollmentFactory(paid=True)

    response = api_client.get(path)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


# --- Query budget: independent of page size and of how many rows exist ----------


def _catalog(courses: int, enrollments_per_course: int, student: ClerkUser) -> Course:
    made = CourseFactory.create_batch(courses)
    for course in made:
        EnrollmentFactory.create_batch(enrollments_per_course, course=course, paid=True)
        EnrollmentFactory(course=course, clerk_user_id=student.clerk_user_id, paid=True)
    return made[0]


@pytest.mark.parametrize(("courses", "per_course"), [(5, 0), (5, 3), (45, 4)])
@pytest.mark.parametrize("page_size", [2, 20, 100])
def test_course_list_costs_two_queries_at_any_size(
    api_client, student, django_assert_num_queries, courses, per_course, page_size
):
    _catalog(courses, per_course, student)

    with django_assert_num_queries(2):  # COUNT (cached afterwards) and the page
        anonymous = api_client.get(f"/api/courses/?page_size={page_size}")
    api_client.force_authenticate(user=student)
    with django_assert_num_queries(1):  # the count is shared with everyone
        signed_in = api_client.get(f"/api/courses/?page_size={page_size}")

    assert anonymous.status_code == signed_in.status_code == 200
    assert len(signed_in.json()["results"]) == min(page_size, courses)
    assert all(row["is_enrolled"] for row in signed_in.json()["results"])


def test_course_list_signed_in_on_a_cold_cache_costs_two_queries(
    student_client, student, django_assert_num_queries
):
    _catalog(30, 2, student)

    with django_assert_num_queries(2):
        response = student_client.get("/api/courses/?search=course&ordering=-price")

    assert response.json()["count"] == 30


@pytest.mark.parametrize(
    "query", ["", "&ordering=price", "&ordering=-title&instructor=a", "&min_price=1"]
)
def test_a_deep_page_holds_the_rows_of_its_offset_in_order(api_client, query):
    CourseFactory.create_batch(23, instructor_name="Ana")
    CourseFactory.create_batch(10, price=Decimal("5.00"), instructor_name="Jean")
    everything = api_client.get(f"/api/courses/?page_size=100{query}").json()

    pages = [
        api_client.get(f"/api/courses/?page_size=7&page={page}{query}").json()
        for page in (1, 2, 3, 4, 5)
    ]

    assert [row for page in pages for row in page["results"]] == everything["results"]
    assert {page["count"] for page in pages} == {everything["count"]}
    assert "page=4" in pages[2]["next"]
    assert "page=2" in pages[2]["previous"]


def test_a_deep_page_costs_one_query_like_the_first(
    api_client, student, django_assert_num_queries
):
    _catalog(45, 2, student)
    api_client.get("/api/courses/?page_size=5")  # the count, cached for every page
    api_client.force_authenticate(user=student)

    with django_assert_num_queries(1):
        deep = api_client.get("/api/courses/?page_size=5&page=8")

    assert len(deep.json()["results"]) == 5
    assert all(row["is_enrolled"] for row in deep.json()["results"])


@pytest.mark.postgres_only
def test_a_deep_page_counts_enrollments_for_its_own_rows_only(student):
    """With OFFSET, PostgreSQL computes the enrollment count of every row it
    skips; ids first, it computes it for the page's rows only."""
    from django.db import connection

    from courses.pagination import CachedCountPaginator
    from courses.selectors import course_list_public

    _catalog(60, 1, student)
    page = CachedCountPaginator(course_list_public(), 10).page(5)
    sql, params = page.object_list.query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]

    assert max(_loops(plan[0]["Plan"])) <= 10


def _loops(node: dict):
    yield node["Actual Loops"]
    for child in node.get("Plans", []):
        yield from _loops(child)


@pytest.mark.parametrize(("courses", "per_course"), [(5, 0), (30, 5)])
def test_course_detail_costs_one_query_at_any_size(
    api_client, student, django_assert_num_queries, courses, per_course
):
    course = _catalog(courses, per_course, student)

    with django_assert_num_queries(1):
        anonymous = api_client.get(f"/api/courses/{course.pk}/")
    api_client.force_authenticate(user=student)
    with django_assert_num_queries(1):
        signed_in = api_client.get(f"/api/courses/slug/{course.slug}/")

    assert anonymous.json()["enrollment_count"] == per_course + 1
    assert signed_in.json()["is_enrolled"] is True


@pytest.mark.parametrize(("courses", "per_course"), [(5, 0), (40, 3)])
def test_my_courses_costs_one_query_at_any_size(
    student_client, student, django_assert_num_queries, courses, per_course
):
    _catalog(courses, per_course, student)

    with django_assert_num_queries(1):
        response = student_client.get("/api/my-courses/")

    assert len(response.json()) == courses
    assert {row["course"]["enrollment_count"] for row in response.json()} == {
        per_course + 1
    }


@pytest.mark.parametrize(("courses", "page_size"), [(5, 20), (40, 2), (40, 100)])
def test_enrollment_list_costs_two_queries_at_any_size(
    student_client, student, django_assert_num_queries, courses, page_size
):
    _catalog(courses, 2, student)
    some = Enrollment.objects.filter(clerk_user_id=student.clerk_user_id).first()

    with django_assert_num_queries(2):
        response = student_client.get(f"/api/enrollments/?page_size={page_size}")
    with django_assert_num_queries(1):
        detail = student_client.get(f"/api/enrollments/{some.pk}/")

    assert response.json()["count"] == courses
    assert detail.json()["course"]["enrollment_count"] == 3
