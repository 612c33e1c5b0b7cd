"""One error shape: {"detail": "..."} or {field: [messages]}, JSON for every 4xx/5xx."""

import pytest
from django.urls import include, path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from courses.tests.conftest import database_unreachable
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def _crash_in_django_view(request):
    raise RuntimeError("internal detail that must not leak")


@api_view(["GET"])
@permission_classes([AllowAny])
def _crash_in_api_view(request):
    raise RuntimeError("internal detail that must not leak")


# This module doubles as a URLconf: the real routes plus two views that crash.
urlpatterns = [
    path("crash/django/", _crash_in_django_view),
    path("crash/api/", _crash_in_api_view),
    path("", include("config.urls")),
]
handler404 = "courses.exceptions.handler404"
handler500 = "courses.exceptions.handler500"


def _assert_detail_only(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"}
    assert isinstance(body["detail"], str)
    assert body["detail"]


def test_config_urls_uses_the_json_handlers():
    from config import urls

    assert urls.handler404 == "courses.exceptions.handler404"
    assert urls.handler500 == "courses.exceptions.handler500"


@pytest.mark.parametrize("url", ["/api/no-such-endpoint/", "/nothing-here/", "/api/"])
def test_unknown_url_is_a_json_404(api_client, url):
    response = api_client.get(url)

    _assert_detail_only(response, 404)


@pytest.mark.parametrize("url", ["/crash/django/", "/crash/api/"])
def test_unhandled_exception_is_a_json_500_without_a_traceback(
    api_client, settings, url
):
    settings.ROOT_URLCONF = __name__
    api_client.raise_request_exception = False

    response = api_client.get(url)

    _assert_detail_only(response, 500)
    assert b"internal detail" not in response.content
    assert b"Traceback" not in response.content


def test_validation_error_names_the_field_with_a_list_of_messages(api_client):
    response = api_client.get("/api/courses/?max_price=cheap")

    assert response.status_code == 400
    assert list(response.json()) == ["max_price"]
    assert len(response.json()["max_price"]) == 1


def test_missing_credentials_is_a_json_401(api_client):
    response = api_client.get("/api/my-courses/")

    _assert_detail_only(response, 401)


def test_wrong_method_is_a_json_405(api_client):
    course = CourseFactory()

    response = api_client.delete(f"/api/courses/{course.pk}/")

    _assert_detail_only(response, 405)


def test_unknown_course_is_a_json_404(api_client):
    response = api_client.get("/api/courses/424242/")

    _assert_detail_only(response, 404)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("url", ["/api/courses/", "/api/courses/1/"])
def test_database_unavailable_is_a_json_503_with_retry_after(api_client, url):
    CourseFactory()

    with database_unreachable():
        response = api_client.get(url)

    _assert_detail_only(response, 503)
    assert int(response["Retry-After"]) > 0
    assert b"port" not in response.content
    assert b"sqlite" not in response.content.lower()


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_body_request_without_the_trailing_slash_is_a_json_404_naming_the_path(
    api_client, settings, debug, method
):
    settings.DEBUG = debug
    api_client.raise_request_exception = False
    course = CourseFactory()

    response = getattr(api_client, method)(
        f"/api/courses/{course.pk}/create_checkout",
        {"success_url": "http://localhost:3000/ok"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    _assert_detail_only(response, 404)
    assert response.json()["detail"] == (
        "Not found. This path ends with a slash: "
        f"{method.upper()} /api/courses/{course.pk}/create_checkout/"
    )


def test_a_body_request_without_slash_is_translated(api_client):
    response = api_client.post(
        "/api/enrollments/verify_payment", {}, format="json", HTTP_ACCEPT_LANGUAGE="fr"
    )

    assert response.status_code == 404
    assert "/api/enrollments/verify_payment/" in response.json()["detail"]
    assert response["Content-Language"] == "fr"


@pytest.mark.parametrize("debug", [True, False])
def test_a_get_without_the_trailing_slash_still_redirects(api_client, settings, debug):
    settings.DEBUG = debug

    response = api_client.get("/api/courses?page=2")

    assert response.status_code == 301
    assert response["Location"] == "/api/courses/?page=2"


def test_a_body_request_to_a_path_that_matches_nothing_is_a_plain_404(api_client):
    response = api_client.post("/api/no-such-thing", {}, format="json")

    _assert_detail_only(response, 404)
    assert "slash" not in response.json()["detail"]
