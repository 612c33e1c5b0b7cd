"""The public catalog's shared cache and HTTP caching (courses/views/caching.py,
courses/catalog_cache.py, courses/catalog_invalidation.py)."""

import pytest
import redis
from django.core.cache import cache
from django.db import transaction

from courses import catalog_cache
from courses.authentication import ClerkUser
from courses.models import Course, Lesson, Section
from courses.tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    SectionFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db

STUDENT = ClerkUser(clerk_user_id="user_student", email="student@example.com")
CATALOG_PATHS = (
    "/api/courses/",
    "/api/courses/{id}/",
    "/api/courses/slug/{slug}/",
    "/api/courses/{id}/outline/",
)


@pytest.fixture
def course() -> Course:
    course = CourseFactory(title="Django", slug="django")
    LessonFactory(section__course=course, title="Welcome")
    return course


def _urls(course: Course) -> list[str]:
    return [path.format(id=course.pk, slug=course.slug) for path in CATALOG_PATHS]


def _stored(url: str, language: str = "fr") -> catalog_cache.Entry | None:
    key = catalog_cache.entry_key(f"http://testserver{url}", language)
    return catalog_cache.entry_get(key)[1]


def _warm(client, url: str, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200
    return response


# --- Served from the cache --------------------------------------------------------


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_a_second_anonymous_answer_comes_from_the_cache_without_a_query(
    api_client, course, path, django_assert_num_queries
):
    url = path.format(id=course.pk, slug=course.slug)
    first = _warm(api_client, url)

    with django_assert_num_queries(0):
        second = api_client.get(url)

    assert second.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert second["ETag"] == first["ETag"]
    assert _stored(url).body == first.content


def test_each_page_and_filter_is_cached_apart(api_client):
    CourseFactory(title="Python", instructor_name="Marie")
    CourseFactory(title="Rust", instructor_name="Jean")
    everything = _warm(api_client, "/api/courses/")

    filtered = api_client.get("/api/courses/?instructor=marie")
    second_page = api_client.get("/api/courses/?page=2&page_size=1")

    assert [row["title"] for row in everything.json()["results"]] == ["Rust", "Python"]
    assert [row["title"] for row in filtered.json()["results"]] == ["Python"]
    assert [row["title"] for row in second_page.json()["results"]] == ["Python"]


def test_an_unknown_query_parameter_is_answered_but_not_cached(
    api_client, course, django_assert_num_queries
):
    _warm(api_client, "/api/courses/?utm_source=mail")

    with django_assert_num_queries(1):  # the page; the count is cached apart
        response = api_client.get("/api/courses/?utm_source=mail")

    assert response.status_code == 200
    assert "ETag" in response


def test_errors_are_never_cached(api_client):
    response = api_client.get("/api/courses/999/")

    assert response.status_code == 404
    assert "ETag" not in response
    assert _stored("/api/courses/999/") is None


def test_a_cached_answer_is_still_throttled(api_client, course, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    rates = {"anon": "2/minute", "user": "10/minute", "checkout": "1/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)

    answers = [api_client.get("/api/courses/").status_code for _ in range(3)]

    assert answers == [200, 200, 429]


# --- Writes are visible at once ------------------------------------------------------


@pytest.mark.parametrize("path", CATALOG_PATHS[:3])
def test_a_course_edit_is_visible_at_once(api_client, course, path):
    url = path.format(id=course.pk, slug=course.slug)
    _warm(api_client, url)

    course.title = "Django, second edition"
    course.save()

    body = api_client.get(url).json()
    titles = [row["title"] for row in body["results"]] if "results" in body else []
    assert "Django, second edition" in [*titles, body.get("title")]


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_a_deactivated_course_disappears_at_once(api_client, course, path):
    url = path.format(id=course.pk, slug=course.slug)
    _warm(api_client, url)

    course.is_active = False
    course.save()

    response = api_client.get(url)
    if path == "/api/courses/":
        assert response.json()["results"] == []
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_a_course_deactivated_by_a_queryset_update_disappears_at_once(
    api_client, course, path
):
    url = path.format(id=course.pk, slug=course.slug)
    _warm(api_client, url)

    Course.objects.filter(pk=course.pk).update(is_active=False)

    response = api_client.get(url)
    assert response.status_code == (200 if path == "/api/courses/" else 404)
    if path == "/api/courses/":
        assert response.json()["results"] == []


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_a_deleted_course_disappears_at_once(api_client, course, path):
    url = path.format(id=course.pk, slug=course.slug)
    _warm(api_client, url)

    course.delete()

    response = api_client.get(url)
    assert response.status_code == (200 if path == "/api/courses/" else 404)


def test_bulk_created_courses_appear_at_once(api_client, course):
    _warm(api_client, "/api/courses/")

    Course.objects.bulk_create(
        [Course(title="Bulk", slug="bulk", description="", price="0.00")]
    )

    titles = [row["title"] for row in api_client.get("/api/courses/").json()["results"]]
    assert "Bulk" in titles


def test_lesson_and_section_writes_refresh_the_outline_and_the_detail(
    api_client, course
):
    outline_url, detail_url = (
        f"/api/courses/{course.pk}/outline/",
        f"/api/courses/{course.pk}/",
    )
    _warm(api_client, outline_url)
    _warm(api_client, detail_url)

    LessonFactory(section=Section.objects.get(course=course), title="Second")
    assert api_client.get(detail_url).json()["lesson_count"] == 2
    Section.objects.filter(course=course).update(title="Renamed")
    assert api_client.get(outline_url).json()["sections"][0]["title"] == "Renamed"
    Lesson.objects.filter(course=course, title="Second").update(is_published=False)
    assert api_client.get(detail_url).json()["lesson_count"] == 1
    Lesson.objects.filter(course=course).delete()
    assert api_client.get(outline_url).json()["sections"] == []
    SectionFactory(course=course).delete()
    assert api_client.get(detail_url).json()["lesson_count"] == 0


def test_enrollment_count_may_lag_until_the_entry_expires(api_client, course, settings):
    _warm(api_client, f"/api/courses/{course.pk}/")

    EnrollmentFactory(course=course, paid=True)

    lagging = api_client.get(f"/api/courses/{course.pk}/").json()
    cache.clear()  # what CATALOG_CACHE_SECONDS later looks like
    fresh = api_client.get(f"/api/courses/{course.pk}/").json()
    assert lagging["enrollment_count"] == 0
    assert fresh["enrollment_count"] == 1


def test_an_answer_computed_while_a_write_commits_is_retired_after_the_commit(
    course, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            course.save()
            # Another request reading now sees the rows before the commit:
            # whatever it stores carries this version.
            during = cache.get(catalog_cache.VERSION_KEY)
        assert cache.get(catalog_cache.VERSION_KEY) == during

    assert cache.get(catalog_cache.VERSION_KEY) != during


def test_a_lost_version_trusts_no_entry_left_behind(
    api_client, course, django_assert_num_queries
):
    _warm(api_client, f"/api/courses/{course.pk}/")
    cache.delete(catalog_cache.VERSION_KEY)  # evicted, or the cache restarted

    with django_assert_num_queries(1):
        response = api_client.get(f"/api/courses/{course.pk}/")

    assert response.status_code == 200


# --- Signed-in callers ---------------------------------------------------------------


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_a_signed_in_caller_never_gets_the_cached_anonymous_body(
    api_client, course, path
):
    url = path.format(id=course.pk, slug=course.slug)
    EnrollmentFactory(course=course, clerk_user_id=STUDENT.clerk_user_id, paid=True)
    anonymous = _warm(api_client, url)
    api_client.force_authenticate(user=STUDENT)

    signed_in = api_client.get(url)

    assert signed_in.status_code == 200
    assert signed_in.content != anonymous.content or path.endswith("/outline/")
    assert signed_in["Cache-Control"] == "private, no-store"
    assert "ETag" not in signed_in
    if "outline" not in path:
        body = signed_in.json()
        rows = body.get("results", [body])
        assert [row["is_enrolled"] for row in rows] == [True]


def test_a_signed_in_answer_is_never_stored_for_anonymous_callers(
    api_client, course, django_assert_num_queries
):
    EnrollmentFactory(course=course, clerk_user_id=STUDENT.clerk_user_id, paid=True)
    api_client.force_authenticate(user=STUDENT)
    _warm(api_client, f"/api/courses/{course.pk}/")
    api_client.force_authenticate(user=None)

    with django_assert_num_queries(1):
        anonymous = api_client.get(f"/api/courses/{course.pk}/")

    assert anonymous.json()["is_enrolled"] is False


def test_a_request_with_a_token_neither_reads_nor_writes_the_cache(
    api_client, course, fake_clerk, django_assert_num_queries
):
    fake_clerk.add_user("user_token", email="token@example.com")
    StudentFactory(clerk_user_id="user_token", email="token@example.com")
    EnrollmentFactory(course=course, clerk_user_id="user_token", paid=True)
    token = {"HTTP_AUTHORIZATION": fake_clerk.authorization("user_token")}
    _warm(api_client, f"/api/courses/{course.pk}/")

    # The caller's student, then the course with is_enrolled: the database
    # answers, not the cached anonymous body.
    with django_assert_num_queries(2):
        signed_in = api_client.get(f"/api/courses/{course.pk}/", **token)
    with django_assert_num_queries(0):
        anonymous = api_client.get(f"/api/courses/{course.pk}/")

    assert signed_in.json()["is_enrolled"] is True
    assert anonymous.json()["is_enrolled"] is False
    assert signed_in["Cache-Control"] == "private, no-store"


def test_a_bad_token_is_refused_even_when_the_answer_is_cached(
    api_client, course, fake_clerk
):
    _warm(api_client, "/api/courses/")

    response = api_client.get("/api/courses/", HTTP_AUTHORIZATION="Bearer not-a-jwt")

    assert response.status_code == 401
    assert response["Cache-Control"] == "private, no-store"


def test_personal_answers_are_private_and_never_stored(api_client, course):
    api_client.force_authenticate(user=STUDENT)

    response = api_client.get("/api/my-courses/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


# --- Languages ---------------------------------------------------------------------


def test_languages_never_mix(api_client, course, django_assert_num_queries):
    french = _warm(api_client, "/api/courses/", HTTP_ACCEPT_LANGUAGE="fr")

    with django_assert_num_queries(1):  # not the French entry
        english = api_client.get("/api/courses/", HTTP_ACCEPT_LANGUAGE="en")
    with django_assert_num_queries(0):
        english_again = api_client.get("/api/courses/", HTTP_ACCEPT_LANGUAGE="en")
        french_again = api_client.get("/api/courses/", HTTP_ACCEPT_LANGUAGE="fr")

    assert french["Content-Language"] == french_again["Content-Language"] == "fr"
    assert english["Content-Language"] == english_again["Content-Language"] == "en"
    assert french["ETag"] == french_again["ETag"] != english["ETag"]
    assert english_again["ETag"] == english["ETag"]


# --- HTTP caching --------------------------------------------------------------------


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_anonymous_answers_carry_etag_public_cache_control_and_vary(
    api_client, course, path, settings
):
    settings.CATALOG_HTTP_MAX_AGE = 45
    settings.CATALOG_HTTP_STALE_WHILE_REVALIDATE = 90

    response = api_client.get(path.format(id=course.pk, slug=course.slug))

    assert response["ETag"].startswith('"')
    assert response["ETag"].endswith('"')
    assert response["Cache-Control"] == (
        "public, max-age=45, stale-while-revalidate=90"
    )
    vary = {name.strip().lower() for name in response["Vary"].split(",")}
    assert {"accept-language", "authorization"} <= vary


def test_stale_while_revalidate_zero_is_left_out(api_client, course, settings):
    settings.CATALOG_HTTP_MAX_AGE = 0
    settings.CATALOG_HTTP_STALE_WHILE_REVALIDATE = 0

    response = api_client.get("/api/courses/")

    assert response["Cache-Control"] == "public, max-age=0"


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_a_matching_etag_is_a_304_without_a_query(
    api_client, course, path, django_assert_num_queries
):
    url = path.format(id=course.pk, slug=course.slug)
    etag = _warm(api_client, url)["ETag"]

    with django_assert_num_queries(0):
        response = api_client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"].startswith("public, ")
    assert "authorization" in response["Vary"].lower()


@pytest.mark.parametrize(
    "header",
    ['"other"', 'W/"other"', '"{etag}x"', ""],
    ids=["another", "another-weak", "almost", "empty"],
)
def test_only_a_matching_etag_is_a_304(api_client, course, header):
    etag = _warm(api_client, "/api/courses/")["ETag"]

    response = api_client.get(
        "/api/courses/", HTTP_IF_NONE_MATCH=header.format(etag=etag.strip('"'))
    )

    assert response.status_code == 200
    assert response.json()["results"]


@pytest.mark.parametrize(
    "header",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
    ids=["same", "weak", "in-a-list", "any"],
)
def test_if_none_match_compares_weakly_and_accepts_a_list(api_client, course, header):
    etag = _warm(api_client, "/api/courses/")["ETag"]

    response = api_client.get(
        "/api/courses/", HTTP_IF_NONE_MATCH=header.format(etag=etag)
    )

    assert response.status_code == 304


def test_an_etag_from_before_an_edit_gets_the_new_body(api_client, course):
    etag = _warm(api_client, f"/api/courses/{course.pk}/")["ETag"]
    course.title = "Renamed"
    course.save()

    response = api_client.get(f"/api/courses/{course.pk}/", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"
    assert response["ETag"] != etag


def test_a_signed_in_caller_with_a_matching_etag_gets_the_full_answer(
    api_client, course
):
    etag = _warm(api_client, f"/api/courses/{course.pk}/")["ETag"]
    api_client.force_authenticate(user=STUDENT)

    response = api_client.get(f"/api/courses/{course.pk}/", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


# --- Turned off --------------------------------------------------------------------


def test_cache_seconds_zero_turns_the_shared_cache_off(
    api_client, course, settings, django_assert_num_queries
):
    settings.CATALOG_CACHE_SECONDS = 0
    first = _warm(api_client, f"/api/courses/{course.pk}/")

    with django_assert_num_queries(1):
        second = api_client.get(f"/api/courses/{course.pk}/")
    with django_assert_num_queries(1):  # revalidated against the database
        revalidated = api_client.get(
            f"/api/courses/{course.pk}/", HTTP_IF_NONE_MATCH=first["ETag"]
        )

    assert second.content == first.content
    assert revalidated.status_code == 304
    assert _stored(f"/api/courses/{course.pk}/") is None


# --- With Redis, as in production ----------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/7"


@pytest.mark.redis
def test_the_cache_works_the_same_on_redis(
    api_client, course, settings, django_assert_num_queries
):
    redis.Redis.from_url(REDIS_URL, socket_timeout=1).flushdb()
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "test",
        }
    }
    url = f"/api/courses/{course.pk}/"
    etag = _warm(api_client, url)["ETag"]

    with django_assert_num_queries(0):
        cached = api_client.get(url)
        not_modified = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    course.title = "On Redis"
    course.save()
    edited = api_client.get(url)

    assert cached.status_code == 200
    assert cached["ETag"] == etag
    assert not_modified.status_code == 304
    assert edited.json()["title"] == "On Redis"
    redis.Redis.from_url(REDIS_URL, socket_timeout=1).flushdb()
