"""CORS covers the API only, without credentials: the admin is never readable
from another origin, even an allowed one."""

import pytest

pytestmark = pytest.mark.django_db

ORIGIN = "http://localhost:3000"  # FRONTEND_URL in pytest.ini, so allowed


def _preflight(client, path: str):
    return client.options(
        path,
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


def test_api_answers_the_frontend_origin_without_credentials(client):
    response = client.get("/api/courses/", HTTP_ORIGIN=ORIGIN)
    preflight = _preflight(client, "/api/courses/")

    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in response
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/login/", "/admin/courses/enrollment/"]
)
def test_admin_pages_carry_no_cors_headers(admin_client, settings, path):
    # Pages render without collectstatic's manifest; CORS is what is tested.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }

    page = admin_client.get(path, HTTP_ORIGIN=ORIGIN)
    preflight = _preflight(admin_client, path)

    for response in (page, preflight):
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Credentials" not in response


def test_other_origins_get_no_cors_headers_on_the_api(client):
    response = client.get("/api/courses/", HTTP_ORIGIN="https://evil.example")

    assert "Access-Control-Allow-Origin" not in response
