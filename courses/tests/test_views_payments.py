from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.throttling import ScopedRateThrottle

from courses.authentication import ClerkUser
from courses.models import Enrollment
from courses.services.payments import enrollment_refund
from courses.tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

URLS = {
    "success_url": "http://localhost:3000/payment/success",
    "cancel_url": "http://localhost:3000/courses/1",
}


def _student(clerk_user_id: str = "user_1") -> ClerkUser:
    return ClerkUser(
        clerk_user_id=clerk_user_id,
        email="a@example.com",
        first_name="Ada",
        last_name="L",
    )


@pytest.fixture
def api_client(api_client):
    # Messages are asserted in English, whatever LANGUAGE_CODE says.
    api_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return api_client


@pytest.fixture
def student_client(api_client):
    api_client.force_authenticate(user=_student())
    return api_client


def _checkout_url(course_id: int) -> str:
    return f"/api/courses/{course_id}/create_checkout/"


def _intent_url(course_id: int) -> str:
    return f"/api/courses/{course_id}/create_payment_intent/"


VERIFY_URL = "/api/enrollments/verify_payment/"


# --- The whole flow -------------------------------------------------------------------


def test_whole_flow_checkout_pay_webhook_enrolls_at_the_charged_price(
    fake_stripe, student_client, client
):
    course = CourseFactory(price=Decimal("49.99"))

    started = student_client.post(_checkout_url(course.pk), URLS, format="json")
    session_id = started.json()["session_id"]
    course.price = Decimal("59.99")  # a price change after checkout
    course.save()
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(session_id)
    )
    webhook = client.post(
        "/api/webhooks/stripe/", data=delivery.payload, **delivery.headers
    )
    verified = student_client.post(
        VERIFY_URL, {"session_id": session_id}, format="json"
    )
    my_courses = student_client.get("/api/my-courses/").json()

    assert started.status_code == 200
    assert started.json()["url"].startswith(fake_stripe.base_url)
    assert webhook.status_code == 200
    assert [e["course"]["id"] for e in my_courses] == [course.pk]
    assert my_courses[0]["price_paid"] == "49.99"
    paid = Enrollment.objects.paid().for_student("user_1").get()
    assert paid.course == course
    assert paid.price_paid == Decimal("49.99")
    assert verified.status_code == 200
    assert verified.json()["status"] == "success"
    assert verified.json()["enrollment"]["price_paid"] == "49.99"
    assert verified.json()["enrollment"]["course"]["id"] == course.pk
    assert verified.json()["enrollment"]["course"]["is_enrolled"] is True
    assert fake_stripe.creating_requests
    assert all(r.idempotency_key for r in fake_stripe.creating_requests)


def test_every_creating_request_carries_an_idempotency_key(fake_stripe, student_client):
    checkout_course, intent_course = CourseFactory(), CourseFactory()

    started = student_client.post(
        _checkout_url(checkout_course.pk), URLS, format="json"
    ).json()
    student_client.post(_intent_url(intent_course.pk))
    fake_stripe.session_pay(started["session_id"])
    student_client.post(
        VERIFY_URL, {"session_id": started["session_id"]}, format="json"
    )
    enrollment_refund(enrollment_id=Enrollment.objects.paid().get().pk)

    paths = {r.path for r in fake_stripe.creating_requests}
    assert paths == {
        "/v1/customers",
        "/v1/checkout/sessions",
        "/v1/payment_intents",
        "/v1/refunds",
    }
    assert all(r.idempotency_key for r in fake_stripe.creating_requests)


# --- create_checkout ------------------------------------------------------------------


def test_create_checkout_appends_the_session_id_placeholder(
    fake_stripe, student_client
):
    course = CourseFactory()

    response = student_client.post(_checkout_url(course.pk), URLS, format="json")

    session = fake_stripe.session(response.json()["session_id"])
    query = parse_qs(urlsplit(session["success_url"]).query)
    assert query == {"session_id": ["{CHECKOUT_SESSION_ID}"]}
    assert session["cancel_url"] == URLS["cancel_url"]


def test_create_checkout_keeps_a_success_url_that_has_the_placeholder(
    fake_stripe, student_client
):
    success_url = "http://localhost:3000/ok?x=1&session_id={CHECKOUT_SESSION_ID}"

    response = student_client.post(
        _checkout_url(CourseFactory().pk),
        {**URLS, "success_url": success_url},
        format="json",
    )

    assert fake_stripe.session(response.json()["session_id"])["success_url"] == (
        success_url
    )


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("success_url", "https://evil.example.com/success"),
        ("cancel_url", "http://localhost:3001/cancel"),
        ("success_url", "javascript:alert(1)"),
        ("success_url", "/relative/path"),
        ("cancel_url", ""),
    ],
)
def test_create_checkout_refuses_urls_off_the_allowed_origins(
    fake_stripe, student_client, field, url
):
    response = student_client.post(
        _checkout_url(CourseFactory().pk), {**URLS, field: url}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert fake_stripe.requests == []


def test_create_checkout_accepts_any_configured_origin(
    fake_stripe, student_client, settings
):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:3000", "https://app.example.com"]

    response = student_client.post(
        _checkout_url(CourseFactory().pk),
        {**URLS, "success_url": "https://app.example.com/done"},
        format="json",
    )

    assert response.status_code == 200


def test_create_checkout_requires_sign_in(fake_stripe, api_client):
    response = api_client.post(_checkout_url(CourseFactory().pk), URLS, format="json")

    assert response.status_code == 401


def test_create_checkout_unknown_or_inactive_course_is_404(fake_stripe, student_client):
    inactive = CourseFactory(is_active=False)

    responses = [
        student_client.post(_checkout_url(course_id), URLS, format="json")
        for course_id in (inactive.pk, 999999)
    ]

    assert [r.status_code for r in responses] == [404, 404]
    assert not Enrollment.objects.exists()


def test_create_checkout_when_already_paid_is_409(fake_stripe, student_client):
    course = CourseFactory()
    EnrollmentFactory(course=course, clerk_user_id="user_1", paid=True)

    response = student_client.post(_checkout_url(course.pk), URLS, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "You are already enrolled in this course."}


def test_create_checkout_of_a_free_course_enrolls_at_once(fake_stripe, student_client):
    course = CourseFactory(price=Decimal("0.00"))

    response = student_client.post(_checkout_url(course.pk), URLS, format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "paid"
    assert response.json()["course"]["id"] == course.pk
    assert fake_stripe.requests == []


def test_create_checkout_without_stripe_configured_is_503(
    fake_stripe, student_client, settings
):
    settings.STRIPE_SECRET_KEY = ""

    response = student_client.post(
        _checkout_url(CourseFactory().pk), URLS, format="json"
    )

    assert response.status_code == 503
    assert response.json() == {"detail": "Payments are not available right now."}


@pytest.mark.parametrize("outage", ["error", "unreachable"])
def test_create_checkout_during_a_stripe_outage_is_502_and_nothing_paid(
    fake_stripe, student_client, outage
):
    if outage == "error":
        fake_stripe.fail_with(500)
    else:
        fake_stripe.stop()

    response = student_client.post(
        _checkout_url(CourseFactory().pk), URLS, format="json"
    )

    assert response.status_code == 502
    assert response.json() == {
        "detail": "The payment provider could not be reached. Try again shortly."
    }
    assert not Enrollment.objects.paid().exists()


def test_create_checkout_is_throttled_per_user(
    fake_stripe, student_client, monkeypatch
):
    # DRF reads the rates once, at import: set the scope's rate on the class.
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {**ScopedRateThrottle.THROTTLE_RATES, "checkout": "2/minute"},
    )
    course = CourseFactory()

    statuses = [
        student_client.post(_checkout_url(course.pk), URLS, format="json").status_code
        for _ in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_verify_payment_is_throttled_with_the_checkout_scope(
    fake_stripe, student_client, monkeypatch
):
    # Each call costs a Stripe request, like starting a checkout.
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {**ScopedRateThrottle.THROTTLE_RATES, "checkout": "2/minute"},
    )
    course = CourseFactory()
    started = student_client.post(_checkout_url(course.pk), URLS, format="json")
    session_id = started.json()["session_id"]

    statuses = [
        student_client.post(
            VERIFY_URL, {"session_id": session_id}, format="json"
        ).status_code
        for _ in range(2)
    ]

    assert started.status_code == 200
    assert statuses == [200, 429]


# --- create_payment_intent ------------------------------------------------------------


def test_create_payment_intent_returns_the_client_secret_and_stores_the_id(
    fake_stripe, student_client
):
    course = CourseFactory(price=Decimal("99.99"))

    response = student_client.post(_intent_url(course.pk))

    body = response.json()
    assert response.status_code == 200
    assert body["client_secret"].startswith(body["payment_intent_id"])
    assert (
        Enrollment.objects.get().stripe_payment_intent_id == body["payment_intent_id"]
    )
    assert fake_stripe.payment_intent(body["payment_intent_id"])["amount"] == 9999


def test_create_payment_intent_requires_sign_in(fake_stripe, api_client):
    assert api_client.post(_intent_url(CourseFactory().pk)).status_code == 401


def test_create_payment_intent_when_stripe_fails_is_502(fake_stripe, student_client):
    fake_stripe.fail_with(500)

    response = student_client.post(_intent_url(CourseFactory().pk))

    assert response.status_code == 502


# --- verify_payment -------------------------------------------------------------------


def _started_session(fake_stripe, student_client) -> str:
    response = student_client.post(
        _checkout_url(CourseFactory(price=Decimal("49.99")).pk), URLS, format="json"
    )
    return response.json()["session_id"]


def test_verify_payment_enrolls_without_any_webhook(fake_stripe, student_client):
    session_id = _started_session(fake_stripe, student_client)
    fake_stripe.session_pay(session_id)

    response = student_client.post(
        VERIFY_URL, {"session_id": session_id}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert response.json()["enrollment"]["is_paid"] is True
    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def test_verify_payment_of_an_unpaid_session_is_pending(fake_stripe, student_client):
    session_id = _started_session(fake_stripe, student_client)

    response = student_client.post(
        VERIFY_URL, {"session_id": session_id}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"status": "pending", "payment_status": "unpaid"}
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_verify_payment_answers_success_with_the_enrollment_as_in_the_tutorial(
    fake_stripe, student_client
):
    session_id = _started_session(fake_stripe, student_client)
    fake_stripe.session_pay(session_id)

    first = student_client.post(VERIFY_URL, {"session_id": session_id}, format="json")
    again = student_client.post(VERIFY_URL, {"session_id": session_id}, format="json")

    assert set(first.json()) == {"status", "enrollment"}
    assert first.json()["status"] == "success"
    assert first.json()["enrollment"]["status"] == "paid"
    assert again.json() == first.json()


def test_verify_payment_of_a_refunded_session_says_refunded_without_enrollment(
    fake_stripe, student_client
):
    session_id = _started_session(fake_stripe, student_client)
    fake_stripe.session_pay(session_id)
    student_client.post(VERIFY_URL, {"session_id": session_id}, format="json")
    enrollment_refund(enrollment_id=Enrollment.objects.get().pk)

    response = student_client.post(
        VERIFY_URL, {"session_id": session_id}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"status": "refunded", "payment_status": "paid"}
    assert Enrollment.objects.get().status == Enrollment.Status.REFUNDED


def test_verify_payment_of_another_students_session_is_404(fake_stripe, api_client):
    api_client.force_authenticate(user=_student("user_1"))
    session_id = _started_session(fake_stripe, api_client)
    fake_stripe.session_pay(session_id)
    api_client.force_authenticate(user=_student("user_2"))

    response = api_client.post(VERIFY_URL, {"session_id": session_id}, format="json")

    assert response.status_code == 404
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_verify_payment_of_an_unknown_session_is_404(fake_stripe, student_client):
    response = student_client.post(
        VERIFY_URL, {"session_id": "cs_test_unknown"}, format="json"
    )

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("body", [{}, {"session_id": ""}, {"session_id": "../x"}])
def test_verify_payment_without_a_valid_session_id_is_400(
    fake_stripe, student_client, body
):
    response = student_client.post(VERIFY_URL, body, format="json")

    assert response.status_code == 400
    assert "session_id" in response.json()


def test_verify_payment_requires_sign_in(fake_stripe, api_client):
    response = api_client.post(VERIFY_URL, {"session_id": "cs_test_1"}, format="json")

    assert response.status_code == 401


def test_verify_payment_when_stripe_is_down_is_502(fake_stripe, student_client):
    session_id = _started_session(fake_stripe, student_client)
    fake_stripe.stop()

    response = student_client.post(
        VERIFY_URL, {"session_id": session_id}, format="json"
    )

    assert response.status_code == 502
