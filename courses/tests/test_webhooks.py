import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from courses.authentication import ClerkUser
from courses.models import Enrollment, Order, StripeEvent
from courses.services import payments
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

URL = "/api/webhooks/stripe/"


@pytest.fixture
def client():
    # Messages are asserted in English, whatever LANGUAGE_CODE says.
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def _checkout(course, clerk_user_id="user_1"):
    return payments.checkout_start(
        course=course,
        student=ClerkUser(clerk_user_id=clerk_user_id, email="a@example.com"),
        success_url="http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://localhost:3000/cancel",
    )


def _post(client, delivery):
    return client.post(URL, data=delivery.payload, **delivery.headers)


def test_checkout_session_completed_enrolls_the_student(fake_stripe, client):
    started = _checkout(CourseFactory(price=Decimal("49.99")))
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(started.session.id)
    )

    response = _post(client, delivery)

    enrollment = Enrollment.objects.get()
    stored = StripeEvent.objects.get()
    assert response.status_code == 200
    assert response.json() == {"detail": "processed"}
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("49.99")
    assert stored.id == delivery.event["id"]
    assert stored.payload == delivery.event
    assert stored.processed_at is not None


def test_first_checkout_completed_delivery_costs_at_most_ten_queries(
    fake_stripe, client, django_assert_max_num_queries
):
    started = _checkout(CourseFactory())
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(started.session.id)
    )

    # exists, savepoint, insert, lock event, lock enrollment, read its order,
    # mark paid, write the order, mark processed, release
    with django_assert_max_num_queries(10):
        response = _post(client, delivery)

    assert response.status_code == 200
    assert Order.objects.get().status == Order.Status.PAID


def test_first_delivery_without_a_recorded_order_costs_at_most_ten_queries(
    fake_stripe, client, django_assert_max_num_queries
):
    # An enrollment whose checkout wrote no order (one older than orders).
    started = _checkout(CourseFactory())
    Order.objects.all().delete()
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(started.session.id)
    )

    # the order is looked up by session and PaymentIntent in one query
    with django_assert_max_num_queries(10):
        response = _post(client, delivery)

    order = Order.objects.get()
    assert response.status_code == 200
    assert order.status == Order.Status.PAID
    assert order.enrollment == Enrollment.objects.get(status=Enrollment.Status.PAID)


def test_duplicate_delivery_costs_one_query_and_changes_nothing(
    fake_stripe, client, django_assert_num_queries
):
    started = _checkout(CourseFactory())
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(started.session.id)
    )
    _post(client, delivery)
    paid_at = Enrollment.objects.get().paid_at

    with django_assert_num_queries(1):
        response = _post(client, delivery)

    assert response.status_code == 200
    assert response.json() == {"detail": "duplicate"}
    assert Enrollment.objects.get().paid_at == paid_at
    assert StripeEvent.objects.get().attempts == 1


def test_same_event_ten_times_in_a_row_is_applied_once(fake_stripe, client):
    started = _checkout(CourseFactory())
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(started.session.id)
    )

    answers = [_post(client, delivery).json()["detail"] for _ in range(10)]

    assert answers == ["processed"] + ["duplicate"] * 9
    assert Enrollment.objects.paid().count() == 1
    assert StripeEvent.objects.get().attempts == 1


def test_webhook_before_the_pending_enrollment_exists_creates_it(fake_stripe, client):
    course = CourseFactory(price=Decimal("49.99"))
    created = fake_stripe.checkout_session_add(
        amount=4999,
        metadata={"course_id": str(course.pk), "clerk_user_id": "user_7"},
        customer_email="late@example.com",
    )
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed",
        fake_stripe.session_pay(created["id"], customer_email="late@example.com"),
    )

    response = _post(client, delivery)

    enrollment = Enrollment.objects.get()
    assert response.status_code == 200
    assert enrollment.clerk_user_id == "user_7"
    assert enrollment.student_email == "late@example.com"
    assert enrollment.stripe_session_id == created["id"]
    assert enrollment.price_paid == Decimal("49.99")
    assert enrollment.status == Enrollment.Status.PAID


def test_unpaid_completed_session_waits_then_async_success_enrolls(fake_stripe, client):
    started = _checkout(CourseFactory())
    unpaid = fake_stripe.session_pay(started.session.id, payment_status="unpaid")

    _post(client, fake_stripe.webhook_delivery("checkout.session.completed", unpaid))
    waiting = Enrollment.objects.get().status
    succeeded = fake_stripe.session_async_payment_succeed(started.session.id)
    response = _post(
        client,
        fake_stripe.webhook_delivery(
            "checkout.session.async_payment_succeeded", succeeded
        ),
    )

    assert waiting == Enrollment.Status.PENDING
    assert response.status_code == 200
    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def test_async_payment_failed_marks_the_enrollment_failed(fake_stripe, client):
    started = _checkout(CourseFactory())
    unpaid = fake_stripe.session_pay(started.session.id, payment_status="unpaid")

    response = _post(
        client,
        fake_stripe.webhook_delivery("checkout.session.async_payment_failed", unpaid),
    )

    assert response.status_code == 200
    assert Enrollment.objects.get().status == Enrollment.Status.FAILED


def test_checkout_session_expired_expires_only_a_pending_enrollment(
    fake_stripe, client
):
    pending = _checkout(CourseFactory(), clerk_user_id="user_1")
    paid = _checkout(CourseFactory(), clerk_user_id="user_2")
    paid_session = fake_stripe.session_pay(paid.session.id)
    _post(
        client, fake_stripe.webhook_delivery("checkout.session.completed", paid_session)
    )

    for started in (pending, paid):
        expired = fake_stripe.session_update(started.session.id, status="expired")
        _post(client, fake_stripe.webhook_delivery("checkout.session.expired", expired))

    assert Enrollment.objects.get(pk=pending.enrollment.pk).status == "expired"
    assert Enrollment.objects.get(pk=paid.enrollment.pk).status == "paid"


def test_payment_intent_succeeded_enrolls_a_payment_intent_purchase(
    fake_stripe, client
):
    course = CourseFactory(price=Decimal("99.99"))
    started = payments.payment_intent_start(
        course=course, student=ClerkUser(clerk_user_id="user_1")
    )
    intent = fake_stripe.payment_intent_succeed(started.payment_intent.id)

    response = _post(
        client, fake_stripe.webhook_delivery("payment_intent.succeeded", intent)
    )

    enrollment = Enrollment.objects.get()
    assert response.status_code == 200
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("99.99")
    assert enrollment.stripe_payment_intent_id == started.payment_intent.id


def test_payment_intent_payment_failed_marks_it_failed(fake_stripe, client):
    started = payments.payment_intent_start(
        course=CourseFactory(), student=ClerkUser(clerk_user_id="user_1")
    )
    intent = fake_stripe.payment_intent_fail(started.payment_intent.id)

    _post(client, fake_stripe.webhook_delivery("payment_intent.payment_failed", intent))

    assert Enrollment.objects.get().status == Enrollment.Status.FAILED


def test_charge_refunded_revokes_access(fake_stripe, client):
    started = _checkout(CourseFactory())
    paid = fake_stripe.session_pay(started.session.id)
    _post(client, fake_stripe.webhook_delivery("checkout.session.completed", paid))
    charge = fake_stripe.refund(paid["payment_intent"])

    response = _post(client, fake_stripe.webhook_delivery("charge.refunded", charge))

    enrollment = Enrollment.objects.get()
    assert response.status_code == 200
    assert enrollment.status == Enrollment.Status.REFUNDED
    assert not enrollment.is_paid
    assert enrollment.refunded_at is not None


def test_unhandled_event_type_is_stored_and_acknowledged(fake_stripe, client):
    delivery = fake_stripe.webhook_delivery("customer.created", {"id": "cus_1"})

    response = _post(client, delivery)

    assert response.status_code == 200
    assert StripeEvent.objects.get().type == "customer.created"


@pytest.mark.parametrize(
    ("secret", "age_seconds"),
    [("whsec_wrong", 0), (None, 301)],
    ids=["bad signature", "stale timestamp"],
)
def test_bad_or_stale_signature_is_refused_and_changes_nothing(
    fake_stripe, client, secret, age_seconds
):
    started = _checkout(CourseFactory())
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed",
        fake_stripe.session_pay(started.session.id),
        secret=secret,
        timestamp=int(time.time()) - age_seconds,
    )

    response = _post(client, delivery)

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid signature."}
    assert not StripeEvent.objects.exists()
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_missing_signature_is_refused(fake_stripe, client):
    delivery = fake_stripe.webhook_delivery("customer.created", {"id": "cus_1"})

    response = client.post(URL, data=delivery.payload, content_type="application/json")

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_tampered_payload_is_refused(fake_stripe, client):
    delivery = fake_stripe.webhook_delivery("customer.created", {"id": "cus_1"})
    tampered = delivery.payload.replace(b"cus_1", b"cus_2")

    response = client.post(URL, data=tampered, **delivery.headers)

    assert response.status_code == 400


def test_webhook_without_a_secret_answers_503(fake_stripe, client, settings):
    delivery = fake_stripe.webhook_delivery("customer.created", {"id": "cus_1"})
    settings.STRIPE_WEBHOOK_SECRET = ""

    response = _post(client, delivery)

    assert response.status_code == 503
    assert "detail" in response.json()


def test_processing_failure_answers_500_then_stripes_retry_succeeds(
    fake_stripe, client
):
    started = _checkout(CourseFactory())
    paid = fake_stripe.session_pay(started.session.id)
    # Nothing charged: the payload alone is applied, and the database refuses
    # its amount.
    broken = fake_stripe.webhook_delivery(
        "checkout.session.completed",
        {
            **paid,
            "payment_intent": None,
            "payment_status": "no_payment_required",
            "amount_total": -100,
        },
        event_id="evt_flaky",
    )
    retried = fake_stripe.webhook_delivery(
        "checkout.session.completed", paid, event_id="evt_flaky"
    )

    failed = _post(client, broken)
    stored = StripeEvent.objects.get()
    succeeded = _post(client, retried)

    assert failed.status_code == 500
    assert failed.json() == {
        "detail": "The event could not be processed; it will be retried."
    }
    assert stored.processed_at is None
    assert stored.last_error
    assert succeeded.status_code == 200
    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def _post_at_once(delivery, times: int) -> list[tuple[int, str]]:
    """POST the same delivery from `times` threads at once: (status, detail) each."""
    barrier = threading.Barrier(times)
    answers: list[tuple[int, str]] = []

    def deliver() -> None:
        try:
            barrier.wait()
            response = Client().post(URL, data=delivery.payload, **delivery.headers)
            answers.append((response.status_code, response.json()["detail"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(answers, key=lambda answer: answer[1] != "processed")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_same_event_ten_times_at_once_is_applied_once(fake_stripe):
    started = _checkout(CourseFactory(price=Decimal("49.99")))
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(started.session.id)
    )

    answers = _post_at_once(delivery, 10)

    stored = StripeEvent.objects.get()
    enrollment = Enrollment.objects.get()
    assert answers == [(200, "processed")] + [(200, "duplicate")] * 9
    assert stored.attempts == 1
    assert stored.processed_at is not None
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("49.99")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_different_events_for_one_payment_at_once_enroll_once(fake_stripe):
    """A webhook racing another for the same payment, before the row exists."""
    course = CourseFactory()
    created = fake_stripe.checkout_session_add(
        amount=4999, metadata={"course_id": str(course.pk), "clerk_user_id": "user_3"}
    )
    paid = fake_stripe.session_pay(created["id"])
    deliveries = [
        fake_stripe.webhook_delivery("checkout.session.completed", paid)
        for _ in range(10)
    ]
    barrier = threading.Barrier(len(deliveries))
    statuses: list[int] = []

    def deliver(delivery) -> None:
        try:
            barrier.wait()
            response = Client().post(URL, data=delivery.payload, **delivery.headers)
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 10
    assert Enrollment.objects.count() == 1
    assert Enrollment.objects.get().status == Enrollment.Status.PAID
    assert StripeEvent.objects.filter(processed_at__isnull=False).count() == 10


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_webhook_and_verify_payment_at_once_enroll_once(fake_stripe):
    started = _checkout(CourseFactory(price=Decimal("49.99")))
    paid = fake_stripe.session_pay(started.session.id)
    delivery = fake_stripe.webhook_delivery("checkout.session.completed", paid)
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def webhook() -> None:
        try:
            barrier.wait()
            response = Client().post(URL, data=delivery.payload, **delivery.headers)
            statuses.append(response.status_code)
        finally:
            connection.close()

    def verify() -> None:
        try:
            api_client = APIClient()
            api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_1"))
            barrier.wait()
            response = api_client.post(
                "/api/enrollments/verify_payment/",
                {"session_id": started.session.id},
                format="json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=webhook) for _ in range(3)]
    threads += [threading.Thread(target=verify) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    enrollment = Enrollment.objects.get()
    assert statuses == [200] * 6
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("49.99")
    assert StripeEvent.objects.get().attempts == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_retries_of_a_failed_event_at_once_are_applied_once(fake_stripe):
    started = _checkout(CourseFactory())
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(started.session.id)
    )
    # A first delivery that failed: stored, unprocessed, with its error.
    StripeEvent.objects.create(
        id=delivery.event["id"],
        type=delivery.event["type"],
        payload=delivery.event,
        attempts=1,
        last_error="OperationalError: server closed the connection",
    )

    answers = _post_at_once(delivery, 10)

    stored = StripeEvent.objects.get()
    assert answers == [(200, "processed")] + [(200, "duplicate")] * 9
    assert stored.attempts == 2
    assert stored.last_error == ""
    assert Enrollment.objects.get().status == Enrollment.Status.PAID
