"""Abuse limits: oversized bodies, over-long strings, pages out of range, NUL
bytes and odd unicode in every text parameter. Never a 500."""

import pytest

from courses.authentication import ClerkUser
from courses.tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

CHECKOUT_URLS = {
    "success_url": "http://localhost:3000/payment/success",
    "cancel_url": "http://localhost:3000/courses",
}


@pytest.fixture
def api_client(api_client):
    api_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return api_client


@pytest.fixture
def student_client(api_client):
    api_client.force_authenticate(
        user=ClerkUser(clerk_user_id="user_limits", email="limits@example.com")
    )
    return api_client


@pytest.fixture
def catalog():
    course = CourseFactory(slug="python-basics")
    EnrollmentFactory(course=course, clerk_user_id="user_limits", paid=True)
    return course


# --- Body size ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/webhooks/stripe/", "/api/enrollments/verify_payment/"]
)
def test_body_over_the_limit_is_refused_with_413_json(api_client, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = api_client.generic(
        "POST",
        path,
        b'{"session_id": "' + b"x" * 1024 + b'"}',
        content_type="application/json",
        HTTP_ORIGIN="http://localhost:3000",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Request body too large (limit: 1024 bytes)."}
    # CORS headers too, so the browser lets the frontend read the reason.
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_schema_documents_the_413_of_every_operation_with_a_body(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    posts = [
        path for path, operations in schema["paths"].items() if "post" in operations
    ]
    assert posts
    for path in posts:
        assert "413" in schema["paths"][path]["post"]["responses"], path


def test_body_at_the_limit_reaches_the_view(student_client, settings, fake_stripe):
    body = b'{"session_id": "cs_' + b"x" * 200 + b'"}'
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

    response = student_client.generic(
        "POST",
        "/api/enrollments/verify_payment/",
        body,
        content_type="application/json",
    )

    assert response.status_code == 404


def test_body_limit_also_guards_the_admin(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post("/admin/login/", {"username": "x" * 2000})

    assert response.status_code == 413


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "٣"])
def test_unreadable_content_length_is_a_400_json(api_client, fake_stripe, length):
    response = api_client.generic(
        "POST",
        "/api/webhooks/stripe/",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=length,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid Content-Length header."}


# --- Strings longer than their columns ------------------------------------------------


def test_over_long_session_id_is_a_400_naming_the_field(student_client):
    response = student_client.post(
        "/api/enrollments/verify_payment/", {"session_id": "cs_" + "x" * 300}, "json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["session_id"]


def test_over_long_checkout_url_is_a_400_naming_the_field(student_client, catalog):
    urls = {**CHECKOUT_URLS, "success_url": "http://localhost:3000/" + "x" * 3000}

    response = student_client.post(
        f"/api/courses/{catalog.pk}/create_checkout/", urls, "json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["success_url"]


@pytest.mark.parametrize("param", ["search", "instructor"])
def test_over_long_search_text_is_not_a_server_error(api_client, catalog, param):
    response = api_client.get("/api/courses/", {param: "é" * 1000})

    assert response.status_code == 200
    assert response.json()["results"] == []


# --- Pages out of range ---------------------------------------------------------------


@pytest.mark.parametrize("page", ["0", "-1", "99999", "1e3", "1.5", "abc", "9" * 30])
def test_page_out_of_range_or_malformed_is_a_4xx(api_client, catalog, page):
    response = api_client.get("/api/courses/", {"page": page})

    assert response.status_code in (400, 404)
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("page_size", ["0", "-5", "101", "1000000", "abc", "9" * 30])
def test_page_size_out_of_range_or_malformed_is_a_400(api_client, catalog, page_size):
    response = api_client.get("/api/courses/", {"page_size": page_size})

    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


def test_largest_page_size_is_served(api_client, catalog):
    response = api_client.get("/api/courses/", {"page_size": "100"})

    assert response.status_code == 200


# --- NUL bytes and odd unicode --------------------------------------------------------

ODD_TEXT = ["\x00", "a\x00b", "é", "日本語", "🙂", "\u202e", "\ufeff", " ", "%", "'\""]


@pytest.mark.parametrize("value", ODD_TEXT)
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/courses/", "search"),
        ("/api/courses/", "instructor"),
        ("/api/courses/", "ordering"),
        ("/api/courses/", "min_price"),
        ("/api/courses/", "page"),
        ("/api/courses/", "page_size"),
        ("/api/courses/", "unknown"),
        ("/api/enrollments/", "status"),
        ("/api/enrollments/", "page"),
        ("/api/my-courses/", "page"),
        ("/api/me/", "unknown"),
        ("/api/health/", "unknown"),
    ],
)
def test_odd_text_in_any_query_parameter_is_never_a_server_error(
    student_client, catalog, path, param, value
):
    response = student_client.get(path, {param: value})

    assert response.status_code in (200, 400, 404)
    assert response["Content-Type"] == "application/json"
    if "\x00" in value and response.status_code == 400:
        assert list(response.json()) == [param]


@pytest.mark.parametrize("value", ODD_TEXT)
def test_odd_text_in_any_json_field_is_never_a_server_error(
    student_client, catalog, value
):
    checkout = student_client.post(
        f"/api/courses/{catalog.pk}/create_checkout/",
        {**CHECKOUT_URLS, "cancel_url": f"http://localhost:3000/{value}"},
        "json",
    )
    verify = student_client.post(
        "/api/enrollments/verify_payment/", {"session_id": f"cs_{value}"}, "json"
    )

    # The course is paid already: a valid body is a 409, an invalid one a 400.
    assert checkout.status_code in (400, 409)
    assert verify.status_code in (400, 404)


@pytest.mark.parametrize("field", ["session_id", "success_url"])
def test_lone_surrogates_in_json_are_a_400(student_client, catalog, field):
    body = '{"' + field + '": "http://localhost:3000/\\ud800"}'

    response = student_client.generic(
        "POST",
        "/api/enrollments/verify_payment/"
        if field == "session_id"
        else f"/api/courses/{catalog.pk}/create_checkout/",
        body,
        content_type="application/json",
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/api/courses/%00/",
        "/api/courses/1%00/",
        "/api/courses/slug/python%00basics/",
        "/api/enrollments/%00/",
        "/api/health/%00/",
    ],
)
def test_nul_bytes_in_the_path_are_a_404_json(student_client, catalog, path):
    response = student_client.get(path)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "slug", ["é", "日本語", "🙂", "a" * 500, "%ff%fe", "%ED%A0%80"]
)
def test_odd_slugs_are_a_404_json(api_client, catalog, slug):
    response = api_client.get(f"/api/courses/slug/{slug}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


# --- Malformed bodies and headers -----------------------------------------------------


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe", b""])
def test_malformed_or_deeply_nested_json_is_a_400(student_client, catalog, body):
    response = student_client.generic(
        "POST",
        "/api/enrollments/verify_payment/",
        body,
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_deeply_nested_webhook_body_is_refused_by_its_signature(
    api_client, fake_stripe
):
    response = api_client.generic(
        "POST",
        "/api/webhooks/stripe/",
        b"[" * 100_000,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=00",
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    "content_type",
    ["text/xml", "application/x-www-form-urlencoded", "multipart/form-data; b=x"],
)
def test_other_body_types_are_a_415_json(student_client, catalog, content_type):
    response = student_client.generic(
        "POST",
        "/api/enrollments/verify_payment/",
        b"session_id=cs_test",
        content_type=content_type,
    )

    assert response.status_code == 415
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer \x00",
        "Bearer é",
        "Bearer " + "a" * 10_000,
        "Basic dXNlcjpwYXNz",
        "Bearer a.b.c",
        "Bearer ..",
        "Bearer e30.e30.e30",
        "Bearer W10.e30.e30",
        "Bearer bnVsbA.e30.e30",
        "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.e30",
        "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6Ilx1MDAwMCJ9.e30.e30",
        "Bearer a b c",
    ],
)
def test_garbage_authorization_headers_are_a_401_json(api_client, fake_clerk, header):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert response["WWW-Authenticate"] == "Bearer"


# --- The admin ------------------------------------------------------------------------


@pytest.fixture
def staff_client(admin_client, settings):
    # Plain static storage: the admin's pages render without collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    return admin_client


@pytest.mark.parametrize(
    "query",
    ["q=%00", "q=a%00b", "status__exact=%00", "o=%00", "course__id__exact=1%00"],
)
def test_nul_in_the_admins_query_strings_is_a_400(staff_client, catalog, query):
    response = staff_client.get(f"/admin/courses/enrollment/?{query}")

    assert response.status_code == 400


@pytest.mark.parametrize("value", ["é", "🙂" * 100, "\u202e", "'\"", "%"])
def test_odd_unicode_in_the_admins_search_is_not_a_server_error(
    staff_client, catalog, value
):
    courses = staff_client.get("/admin/courses/course/", {"q": value})
    enrollments = staff_client.get("/admin/courses/enrollment/", {"q": value})

    assert (courses.status_code, enrollments.status_code) == (200, 200)
