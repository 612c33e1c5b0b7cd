"""The whole product from outside: a real Clerk token, the real Stripe SDK against
the fake Stripe, real webhook signatures, and the public endpoints a frontend calls."""

from decimal import Decimal

import pytest
from django.test import Client

from courses.models import Enrollment, StripeEvent
from courses.services.payments import enrollment_refund
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

URLS = {
    "success_url": "http://localhost:3000/success",
    "cancel_url": "http://localhost:3000/cancel",
}


@pytest.fixture
def student(fake_clerk) -> dict[str, str]:
    """Headers of a signed-in student whose email Clerk's Backend API knows."""
    fake_clerk.add_user("user_e2e", email="ada@example.com", first_name="Ada")
    return {"HTTP_AUTHORIZATION": fake_clerk.authorization("user_e2e")}


def _webhook(client: Client, delivery) -> int:
    response = client.post(
        "/api/webhooks/stripe/", data=delivery.payload, **delivery.headers
    )
    return response.status_code


def _charge_id(fake_stripe, session: dict) -> str:
    return fake_stripe.payment_intent(session["payment_intent"])["latest_charge"]


def test_buying_a_course_from_catalog_to_my_courses_and_back_after_a_refund(
    client, fake_stripe, student
):
    course = CourseFactory(title="Django Avancé", price=Decimal("99.99"))

    listed = client.get("/api/courses/").json()["results"]
    started = client.post(
        f"/api/courses/{course.pk}/create_checkout/",
        URLS,
        content_type="application/json",
        **student,
    )
    session_id = started.json()["session_id"]
    course.price = Decimal("149.99")  # the price changes while the student pays
    course.save()
    paid_session = fake_stripe.session_pay(session_id)
    delivered = _webhook(
        client, fake_stripe.webhook_delivery("checkout.session.completed", paid_session)
    )
    my_courses = client.get("/api/my-courses/", **student).json()
    detail = client.get(f"/api/courses/{course.pk}/", **student).json()

    assert [c["title"] for c in listed] == ["Django Avancé"]
    assert started.status_code == 200
    assert delivered == 200
    assert [e["course"]["id"] for e in my_courses] == [course.pk]
    assert my_courses[0]["price_paid"] == "99.99"
    assert detail["is_enrolled"] is True
    assert detail["enrollment_count"] == 1
    enrollment = Enrollment.objects.get()
    assert enrollment.student_email == "ada@example.com"

    enrollment_refund(enrollment_id=enrollment.pk)
    charge = fake_stripe.charge(_charge_id(fake_stripe, paid_session))
    refunded = _webhook(client, fake_stripe.webhook_delivery("charge.refunded", charge))
    after = client.get("/api/my-courses/", **student).json()

    assert refunded == 200
    assert after == []
    assert Enrollment.objects.get().status == Enrollment.Status.REFUNDED
    assert StripeEvent.objects.filter(processed_at__isnull=False).count() == 2


def test_verify_payment_with_a_real_token_enrolls_without_any_webhook(
    client, fake_stripe, student
):
    course = CourseFactory()
    started = client.post(
        f"/api/courses/{course.pk}/create_checkout/",
        URLS,
        content_type="application/json",
        **student,
    ).json()
    fake_stripe.session_pay(started["session_id"])

    verified = client.post(
        "/api/enrollments/verify_payment/",
        {"session_id": started["session_id"]},
        content_type="application/json",
        **student,
    )

    assert verified.status_code == 200
    assert verified.json()["status"] == "success"
    assert client.get("/api/my-courses/", **student).json()[0]["course"]["id"] == (
        course.pk
    )


def test_another_students_token_sees_none_of_it(client, fake_clerk, fake_stripe):
    course = CourseFactory()
    owner = {"HTTP_AUTHORIZATION": fake_clerk.authorization("user_a", email="a@x.io")}
    other = {"HTTP_AUTHORIZATION": fake_clerk.authorization("user_b", email="b@x.io")}
    started = client.post(
        f"/api/courses/{course.pk}/create_checkout/",
        URLS,
        content_type="application/json",
        **owner,
    ).json()
    fake_stripe.session_pay(started["session_id"])
    enrollment_id = Enrollment.objects.get().pk

    stolen = client.post(
        "/api/enrollments/verify_payment/",
        {"session_id": started["session_id"]},
        content_type="application/json",
        **other,
    )
    peeked = client.get(f"/api/enrollments/{enrollment_id}/", **other)

    assert stolen.status_code == 404
    assert peeked.status_code == 404
    assert client.get("/api/my-courses/", **other).json() == []
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING
