"""The middleware stack: Django's session, authentication and messages middleware
run outside /api/ only; answers to signed-in callers are private."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from courses.authentication import ClerkUser
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _static_without_manifest(settings):
    # The admin's pages name their assets; the production manifest exists
    # only after collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


def _vary(response) -> set[str]:
    return {name.strip().lower() for name in response.get("Vary", "").split(",")}


def test_the_admins_middleware_is_djangos_own_classes():
    """Django's admin checks (admin.E408 to E410) and `check --deploy` (CSRF)
    still find them."""
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.messages.middleware import MessageMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.utils.module_loading import import_string

    classes = [import_string(path) for path in settings.MIDDLEWARE]

    for admin_needs in (SessionMiddleware, AuthenticationMiddleware, MessageMiddleware):
        assert any(issubclass(cls, admin_needs) for cls in classes)
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_api_requests_read_no_session_and_set_no_cookie(api_client, client):
    CourseFactory()
    admin = User.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(admin)

    # A staff member's session cookie sent to the API is not even read.
    response = client.get("/api/courses/")

    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "_messages")
    assert response.wsgi_request.user is None  # DRF's anonymous caller
    assert "cookie" not in _vary(response)
    assert not response.cookies


def test_the_admin_still_gets_sessions_csrf_and_its_user(client, settings):
    settings.ADMIN_REQUIRE_2FA = False  # the password alone reaches the home page
    admin = User.objects.create_superuser("staff", "staff@example.com", "pw")

    login_page = client.get("/admin/login/")
    logged_in = client.post(
        "/admin/login/?next=/admin/",
        {"username": "staff", "password": "pw", "next": "/admin/"},
    )
    home = client.get("/admin/")

    assert "csrftoken" in login_page.cookies
    assert logged_in.status_code == 302
    assert home.status_code == 200
    assert home.wsgi_request.user == admin
    assert home.wsgi_request.session.session_key


def test_the_admin_refuses_a_post_without_its_csrf_token():
    strict = Client(enforce_csrf_checks=True)

    response = strict.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403


def test_an_api_answer_to_a_token_is_private(api_client):
    api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_a"))

    response = api_client.get("/api/enrollments/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_an_anonymous_answer_outside_the_catalog_sets_no_cache_control(api_client):
    response = api_client.get("/api/health/")

    assert response.status_code == 200
    assert "Cache-Control" not in response
