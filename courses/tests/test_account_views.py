"""GET /api/me/ from the Student, and GET /api/me/export/: everything held about
the caller, nothing about anyone else; real tokens against a fake Clerk."""

from decimal import Decimal

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator

from courses.models import PaymentReview
from courses.services.students import student_erase
from courses.tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db


def _get(client, path, authorization=None):
    headers = {"HTTP_ACCEPT_LANGUAGE": "en"}
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization
    return client.get(path, **headers)


@pytest.fixture
def two_students():
    """Ada, with a paid course, progress, a pending course and a second payment
    kept for review; Grace, in the same paid course."""
    ada = StudentFactory(
        clerk_user_id="user_ada",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        image_url="https://img.clerk.com/ada.png",
    )
    StudentFactory(clerk_user_id="user_grace", email="grace@example.com")
    course = CourseFactory(title="Python", price=Decimal("49.99"))
    lesson = LessonFactory(section__course=course, title="Variables")
    paid = EnrollmentFactory(
        course=course,
        clerk_user_id="user_ada",
        student_email="ada@example.com",
        price_paid=Decimal("49.99"),
        stripe_session_id="cs_ada",
        stripe_payment_intent_id="pi_ada",
        paid=True,
    )
    LessonProgressFactory(enrollment=paid, lesson=lesson)
    EnrollmentFactory(course=CourseFactory(title="Django"), clerk_user_id="user_ada")
    PaymentReview.objects.create(
        kind=PaymentReview.Kind.DUPLICATE,
        status=PaymentReview.Status.REFUNDED,
        enrollment=paid,
        stripe_payment_intent_id="pi_ada_twice",
        amount=Decimal("49.99"),
        currency="cad",
        reason="second payment",
    )
    grace = EnrollmentFactory(
        course=course,
        clerk_user_id="user_grace",
        student_email="grace@example.com",
        stripe_session_id="cs_grace",
        paid=True,
    )
    LessonProgressFactory(enrollment=grace, lesson=lesson)
    return ada


def test_me_answers_from_the_student_whatever_the_token_claims(fake_clerk, api_client):
    StudentFactory(
        clerk_user_id="user_ada",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
    )
    token = fake_clerk.authorization("user_ada", email="other@example.com")

    response = _get(api_client, "/api/me/", token)

    assert response.status_code == 200
    assert response.json() == {
        "clerk_user_id": "user_ada",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "full_name": "Ada Lovelace",
    }


def test_export_holds_the_profile_enrollments_amounts_and_progress(
    fake_clerk, api_client, two_students
):
    response = _get(api_client, "/api/me/export/", fake_clerk.authorization("user_ada"))

    body = response.json()
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    assert body["clerk_user_id"] == "user_ada"
    assert body["profile"]["email"] == "ada@example.com"
    assert body["profile"]["image_url"] == "https://img.clerk.com/ada.png"
    assert body["exported_at"]
    paid, pending = body["enrollments"]
    assert paid["course"]["title"] == "Python"
    assert (paid["status"], paid["price_paid"], paid["currency"]) == (
        "paid",
        "49.99",
        "cad",
    )
    assert (paid["stripe_session_id"], paid["stripe_payment_intent_id"]) == (
        "cs_ada",
        "pi_ada",
    )
    assert [p["lesson_title"] for p in paid["lesson_progress"]] == ["Variables"]
    assert paid["payment_reviews"][0]["stripe_payment_intent_id"] == "pi_ada_twice"
    assert (pending["course"]["title"], pending["status"]) == ("Django", "pending")
    assert pending["lesson_progress"] == []


def test_export_holds_nothing_about_anyone_else(fake_clerk, api_client, two_students):
    response = _get(api_client, "/api/me/export/", fake_clerk.authorization("user_ada"))

    text = response.content.decode()
    assert "user_grace" not in text
    assert "grace@example.com" not in text
    assert "cs_grace" not in text
    assert len(response.json()["enrollments"]) == 2


def test_export_costs_a_fixed_number_of_queries(
    fake_clerk, api_client, two_students, django_assert_num_queries
):
    authorization = fake_clerk.authorization("user_ada")
    for number in range(5):
        EnrollmentFactory(clerk_user_id="user_ada", course__title=f"More {number}")

    # the caller's student (sign-in), the student, the enrollments with their
    # courses, their lesson progress, their payments kept for review, their
    # orders
    with django_assert_num_queries(6):
        response = _get(api_client, "/api/me/export/", authorization)

    assert len(response.json()["enrollments"]) == 7


def test_export_after_deletion_is_refused_like_every_signed_in_request(
    fake_clerk, api_client, two_students
):
    authorization = fake_clerk.authorization("user_ada")
    with transaction.atomic():
        student_erase(clerk_user_id="user_ada")

    response = _get(api_client, "/api/me/export/", authorization)

    assert response.status_code == 401


def test_export_needs_a_token(api_client):
    response = _get(api_client, "/api/me/export/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_the_schema_documents_the_export_and_the_clerk_webhook():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    export = schema["paths"]["/api/me/export/"]["get"]
    webhook = schema["paths"]["/api/webhooks/clerk/"]["post"]
    exported = schema["components"]["schemas"]["StudentExport"]["properties"]
    assert {"ClerkBearer": []} in export["security"]
    assert {"profile", "enrollments", "exported_at"} <= set(exported)
    assert "Content-Disposition" in export["responses"]["200"]["headers"]
    assert {"200", "400", "500", "503"} <= set(webhook["responses"])
    assert {p["name"] for p in webhook["parameters"]} == {
        "svix-id",
        "svix-timestamp",
        "svix-signature",
    }
    assert "security" not in webhook or webhook["security"] in ([], [{}])
