"""Abuse limits: oversized bodies, odd headers, NUL bytes and unicode."""

import pytest

pytestmark = pytest.mark.django_db


def test_body_over_the_limit_is_refused_with_413_json(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = api_client.generic(
        "POST",
        "/api/health/",
        b"x" * 1025,
        content_type="application/json",
        HTTP_ORIGIN="http://localhost:3000",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "1024" in response.json()["detail"]
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_body_at_the_limit_reaches_the_view(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = api_client.generic(
        "POST", "/api/health/", b"x" * 1024, content_type="application/json"
    )

    assert response.status_code == 405


def test_body_limit_also_guards_non_api_paths(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post(
        "/admin/login/", {"username": "x" * 2000}, HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 413


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_invalid_content_length_is_refused_with_400_json(api_client, length):
    response = api_client.generic(
        "POST",
        "/api/health/",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=length,
    )

    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "url",
    [
        "/api/health/?q=%00",
        "/api/health/?%00=1",
        "/api/health/?page=1%00",
        "/api/health/%00/",
    ],
)
def test_nul_bytes_in_path_or_query_are_refused_with_400_json(api_client, url):
    response = api_client.get(url, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.json() == {"detail": "Null characters are not allowed."}


@pytest.mark.parametrize(
    "value", ["é", "日本語", "🙂", "\u202e", "%ff%fe", "a+b", "%ED%A0%80"]
)
def test_unicode_in_the_query_string_is_not_a_server_error(api_client, value):
    response = api_client.get(f"/api/health/?q={value}")

    assert response.status_code == 200
