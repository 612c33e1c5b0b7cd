"""Payments that do not grant access as they come: a second payment for an
enrollment already paid (refunded automatically, once), and payments in another
currency or Stripe mode (not granted, kept for staff)."""

import logging
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Enrollment, PaymentReview, StripeEvent
from courses.services import payments
from courses.tests.factories import CourseFactory, EnrollmentFactory
from courses.tests.staff import sign_in_staff

pytestmark = pytest.mark.django_db

WEBHOOK_URL = "/api/webhooks/stripe/"
REVIEW_CHANGELIST = reverse("admin:courses_paymentreview_changelist")


def _checkout(course, clerk_user_id="user_1"):
    return payments.checkout_start(
        course=course,
        student=ClerkUser(clerk_user_id=clerk_user_id, email="a@example.com"),
        success_url="http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://localhost:3000/cancel",
    )


def _other_session(fake_stripe, course, **options) -> dict:
    """Another open session for user_1's enrollment: one paid just before it
    expired, or created elsewhere with the same metadata."""
    return fake_stripe.checkout_session_add(
        amount=stripe_gateway.amount_to_cents(course.price),
        metadata={"course_id": str(course.pk), "clerk_user_id": "user_1"},
        **options,
    )


def _fulfil(fake_stripe, session_id: str) -> Enrollment | None:
    paid = fake_stripe.session_pay(session_id)
    return payments.checkout_fulfill(
        session=stripe_gateway.checkout_session_from_dict(paid)
    )


def _paid_with_charge(fake_stripe, session_id: str) -> stripe_gateway.CheckoutSession:
    """Paid, and read with its charge as verify_payment reads it: fulfilling it
    makes no other request to Stripe than a refund."""
    fake_stripe.session_pay(session_id)
    return stripe_gateway.checkout_session_get(session_id, with_payment=True)


def _refund_requests(fake_stripe):
    return fake_stripe.requests_to("/v1/refunds", "POST")


# --- A second payment -----------------------------------------------------------------


def test_second_paid_session_is_refunded_once_and_access_stays(
    fake_stripe, django_capture_on_commit_callbacks, caplog
):
    course = CourseFactory(price=Decimal("49.99"))
    started = _checkout(course)
    first = _fulfil(fake_stripe, started.session.id)
    other = _other_session(fake_stripe, course)

    with django_capture_on_commit_callbacks(execute=True):
        second = _fulfil(fake_stripe, other["id"])
    with django_capture_on_commit_callbacks(execute=True):
        again = payments.checkout_fulfill(
            session=stripe_gateway.checkout_session_get(other["id"])
        )

    duplicate_pi = fake_stripe.session(other["id"])["payment_intent"]
    enrollment = Enrollment.objects.get()
    review = PaymentReview.objects.get()
    (request,) = _refund_requests(fake_stripe)
    (refund,) = fake_stripe.refunds
    assert first.pk == second.pk == again.pk
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.paid_at == first.paid_at
    assert enrollment.stripe_payment_intent_id == first.stripe_payment_intent_id
    assert request.params == {"payment_intent": duplicate_pi}
    assert request.idempotency_key == f"refund-second-payment-{duplicate_pi}"
    assert refund["amount"] == 4999
    assert review.kind == PaymentReview.Kind.DUPLICATE
    assert review.status == PaymentReview.Status.REFUNDED
    assert review.enrollment == enrollment
    assert review.stripe_payment_intent_id == duplicate_pi
    assert review.stripe_session_id == other["id"]
    assert review.stripe_refund_id == refund["id"]
    assert review.amount == Decimal("49.99")
    assert review.currency == "cad"
    assert review.refunded_at is not None
    assert "second payment" in caplog.text


def test_session_paid_beside_a_payment_intent_is_refunded(
    fake_stripe, django_capture_on_commit_callbacks
):
    """The stored session and PaymentIntent both paid: the PaymentIntent came first."""
    course = CourseFactory()
    student = ClerkUser(clerk_user_id="user_1", email="a@example.com")
    session = _checkout(course).session
    intent = payments.payment_intent_start(course=course, student=student)
    paid_intent = fake_stripe.payment_intent_succeed(intent.payment_intent.id)
    payments.payment_intent_fulfill(
        payment_intent=stripe_gateway.payment_intent_from_dict(paid_intent)
    )

    with django_capture_on_commit_callbacks(execute=True):
        enrollment = _fulfil(fake_stripe, session.id)

    refunded_pi = fake_stripe.session(session.id)["payment_intent"]
    (request,) = _refund_requests(fake_stripe)
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.stripe_payment_intent_id == intent.payment_intent.id
    assert request.params == {"payment_intent": refunded_pi}
    assert PaymentReview.objects.get().status == PaymentReview.Status.REFUNDED


def test_payment_intent_paid_beside_a_session_is_refunded(
    fake_stripe, django_capture_on_commit_callbacks
):
    course = CourseFactory()
    student = ClerkUser(clerk_user_id="user_1", email="a@example.com")
    intent = payments.payment_intent_start(course=course, student=student)
    session = _checkout(course).session
    _fulfil(fake_stripe, session.id)
    paid_intent = fake_stripe.payment_intent_succeed(intent.payment_intent.id)

    with django_capture_on_commit_callbacks(execute=True):
        enrollment = payments.payment_intent_fulfill(
            payment_intent=stripe_gateway.payment_intent_from_dict(paid_intent)
        )

    (request,) = _refund_requests(fake_stripe)
    assert enrollment.status == Enrollment.Status.PAID
    assert request.params == {"payment_intent": intent.payment_intent.id}
    assert PaymentReview.objects.get().kind == PaymentReview.Kind.DUPLICATE


def test_a_payment_after_a_refund_is_refunded_and_grants_nothing(
    fake_stripe, django_capture_on_commit_callbacks
):
    course = CourseFactory()
    started = _checkout(course)
    _fulfil(fake_stripe, started.session.id)
    payments.enrollment_refund(enrollment_id=started.enrollment.pk)
    other = _other_session(fake_stripe, course)

    with django_capture_on_commit_callbacks(execute=True):
        enrollment = _fulfil(fake_stripe, other["id"])

    assert enrollment.status == Enrollment.Status.REFUNDED
    assert len(fake_stripe.refunds) == 2
    assert PaymentReview.objects.get().status == PaymentReview.Status.REFUNDED


def test_refund_that_stripe_refuses_stays_pending_until_reconcile(
    fake_stripe, django_capture_on_commit_callbacks
):
    course = CourseFactory()
    _fulfil(fake_stripe, _checkout(course).session.id)
    other = _other_session(fake_stripe, course)
    paid = _paid_with_charge(fake_stripe, other["id"])
    fake_stripe.fail_with(500, times=1)

    with django_capture_on_commit_callbacks(execute=True):
        enrollment = payments.checkout_fulfill(session=paid)
    pending = PaymentReview.objects.get()
    out = StringIO()
    call_command("reconcile_payments", "--since", "1h", stdout=out)

    review = PaymentReview.objects.get()
    assert enrollment.status == Enrollment.Status.PAID
    assert pending.status == PaymentReview.Status.REFUND_PENDING
    assert "PaymentProviderError" in pending.last_error
    assert review.status == PaymentReview.Status.REFUNDED
    assert review.last_error == ""
    assert len(fake_stripe.refunds) == 1
    assert f"Second payment {review.stripe_payment_intent_id}" in out.getvalue()
    # The retry used the same key as the failed attempt.
    keys = {r.idempotency_key for r in _refund_requests(fake_stripe)}
    assert keys == {f"refund-second-payment-{review.stripe_payment_intent_id}"}


def test_two_paid_sessions_by_webhook_give_one_access_and_one_refund(
    fake_stripe, django_capture_on_commit_callbacks
):
    course = CourseFactory()
    first = _checkout(course).session.id
    second = _other_session(fake_stripe, course)["id"]
    deliveries = [
        fake_stripe.webhook_delivery(
            "checkout.session.completed", fake_stripe.session_pay(session_id)
        )
        for session_id in (first, second)
    ]
    # Stripe tells of the second payment again, in another event.
    deliveries.append(
        fake_stripe.webhook_delivery(
            "checkout.session.async_payment_succeeded", fake_stripe.session(second)
        )
    )

    statuses = []
    for delivery in deliveries:
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(
                WEBHOOK_URL, data=delivery.payload, **delivery.headers
            )
        statuses.append(response.status_code)

    (refund,) = fake_stripe.refunds
    assert statuses == [200, 200, 200]
    assert Enrollment.objects.paid().count() == 1
    assert refund["payment_intent"] == fake_stripe.session(second)["payment_intent"]
    assert PaymentReview.objects.get().status == PaymentReview.Status.REFUNDED


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_payments_whose_webhooks_arrive_together_give_one_access_one_refund(
    fake_stripe,
):
    course = CourseFactory()
    sessions = [_checkout(course).session.id, _other_session(fake_stripe, course)["id"]]
    deliveries = [
        fake_stripe.webhook_delivery(
            "checkout.session.completed", fake_stripe.session_pay(session_id)
        )
        for session_id in sessions
    ]
    barrier = threading.Barrier(len(deliveries))
    statuses: list[int] = []

    def deliver(delivery) -> None:
        try:
            barrier.wait()
            response = Client().post(
                WEBHOOK_URL, data=delivery.payload, **delivery.headers
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    enrollment = Enrollment.objects.get()
    review = PaymentReview.objects.get()
    paid_intents = {fake_stripe.session(s)["payment_intent"] for s in sessions}
    (refund,) = fake_stripe.refunds
    assert statuses == [200, 200]
    assert StripeEvent.objects.filter(processed_at__isnull=False).count() == 2
    assert enrollment.status == Enrollment.Status.PAID
    assert review.status == PaymentReview.Status.REFUNDED
    # The refunded payment is the one that did not grant access, and the two
    # payments are exactly the enrollment's and the refunded one.
    assert refund["payment_intent"] == review.stripe_payment_intent_id
    assert {enrollment.stripe_payment_intent_id, refund["payment_intent"]} == (
        paid_intents
    )


# --- Currency and mode ----------------------------------------------------------------


def test_a_payment_in_another_currency_is_not_granted_and_kept_for_staff(
    fake_stripe, caplog
):
    course = CourseFactory()
    started = _checkout(course)
    other = _other_session(fake_stripe, course, currency="usd")
    caplog.set_level(logging.WARNING)

    first = _fulfil(fake_stripe, other["id"])
    again = payments.checkout_fulfill(
        session=stripe_gateway.checkout_session_get(other["id"])
    )

    enrollment = Enrollment.objects.get()
    review = PaymentReview.objects.get()
    assert first is again is None
    assert enrollment.status == Enrollment.Status.PENDING
    assert enrollment.stripe_session_id == started.session.id
    assert review.kind == PaymentReview.Kind.WRONG_CURRENCY
    assert review.status == PaymentReview.Status.TO_REVIEW
    assert review.enrollment == enrollment
    assert review.currency == "usd"
    assert "USD" in review.reason
    assert "CAD" in review.reason
    assert fake_stripe.refunds == []
    assert "not granted" in caplog.text


def test_a_payment_that_is_not_for_a_course_is_ignored_whatever_its_currency(
    fake_stripe,
):
    """Another product sold on the same Stripe account: not ours to review."""
    foreign = fake_stripe.checkout_session_add(amount=1500, metadata={}, currency="usd")
    live = fake_stripe.checkout_session_add(amount=1500, metadata={}, livemode=True)

    results = [_fulfil(fake_stripe, foreign["id"]), _fulfil(fake_stripe, live["id"])]

    assert results == [None, None]
    assert not PaymentReview.objects.exists()
    assert not Enrollment.objects.exists()


def test_a_refused_payment_told_by_its_intent_then_its_session_is_one_row(
    fake_stripe,
):
    course = CourseFactory()
    _checkout(course)
    other = _other_session(fake_stripe, course, currency="usd")
    paid = fake_stripe.session_pay(other["id"])
    intent = fake_stripe.payment_intent(paid["payment_intent"])
    # The intent of a session paid in USD, as its own event describes it.
    payments.payment_intent_fulfill(
        payment_intent=stripe_gateway.payment_intent_from_dict(
            {**intent, "metadata": dict(paid["metadata"])}
        )
    )

    payments.checkout_fulfill(session=stripe_gateway.checkout_session_from_dict(paid))

    review = PaymentReview.objects.get()
    assert review.stripe_payment_intent_id == paid["payment_intent"]
    assert review.stripe_session_id == other["id"]
    assert review.enrollment == Enrollment.objects.get()
    assert not Enrollment.objects.paid().exists()


def test_a_payment_intent_in_another_currency_is_not_granted(fake_stripe, settings):
    course = CourseFactory()
    student = ClerkUser(clerk_user_id="user_1", email="a@example.com")
    settings.STRIPE_CURRENCY = "eur"
    intent = payments.payment_intent_start(course=course, student=student)
    settings.STRIPE_CURRENCY = "cad"
    paid = fake_stripe.payment_intent_succeed(intent.payment_intent.id)

    result = payments.payment_intent_fulfill(
        payment_intent=stripe_gateway.payment_intent_from_dict(paid)
    )

    review = PaymentReview.objects.get()
    assert result is None
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING
    assert review.kind == PaymentReview.Kind.WRONG_CURRENCY
    assert review.stripe_payment_intent_id == intent.payment_intent.id


def test_a_test_mode_payment_is_not_granted_with_a_live_key(fake_stripe, settings):
    course = CourseFactory()
    started = _checkout(course)  # created with the test key: a test-mode session
    settings.STRIPE_SECRET_KEY = "rk_live_fake"  # a restricted live key

    result = _fulfil(fake_stripe, started.session.id)

    review = PaymentReview.objects.get()
    assert result is None
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING
    assert review.kind == PaymentReview.Kind.WRONG_MODE
    assert not review.is_livemode
    assert review.reason == "Test-mode payment, but STRIPE_SECRET_KEY is a live key."


def test_a_live_payment_is_not_granted_with_a_test_key(fake_stripe):
    course = CourseFactory()
    other = _other_session(fake_stripe, course, livemode=True)

    result = _fulfil(fake_stripe, other["id"])

    review = PaymentReview.objects.get()
    assert result is None
    assert review.kind == PaymentReview.Kind.WRONG_MODE
    assert review.is_livemode
    assert not Enrollment.objects.paid().exists()


def test_live_key_and_live_payment_are_granted(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = "sk_live_fake"
    started = _checkout(CourseFactory())

    enrollment = _fulfil(fake_stripe, started.session.id)

    assert fake_stripe.session(started.session.id)["livemode"] is True
    assert enrollment.status == Enrollment.Status.PAID
    assert not PaymentReview.objects.exists()


def test_a_refused_payment_by_webhook_is_acknowledged_and_recorded(fake_stripe):
    course = CourseFactory()
    _checkout(course)
    other = _other_session(fake_stripe, course, currency="eur")
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(other["id"])
    )

    response = Client().post(WEBHOOK_URL, data=delivery.payload, **delivery.headers)
    repeat = Client().post(WEBHOOK_URL, data=delivery.payload, **delivery.headers)

    assert response.status_code == 200
    assert response.json() == {"detail": "processed"}
    assert repeat.json() == {"detail": "duplicate"}
    assert PaymentReview.objects.get().kind == PaymentReview.Kind.WRONG_CURRENCY
    assert not Enrollment.objects.paid().exists()


# --- Staff ----------------------------------------------------------------------------


@pytest.fixture
def _plain_static(settings):
    # Admin pages render without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


def _staff(client, *codenames: str) -> User:
    user = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    sign_in_staff(client, user)
    return user


def _refused_payment(fake_stripe, currency="usd") -> PaymentReview:
    course = CourseFactory()
    _checkout(course)
    _fulfil(fake_stripe, _other_session(fake_stripe, course, currency=currency)["id"])
    return PaymentReview.objects.get()


@pytest.mark.usefixtures("_plain_static")
def test_staff_list_refused_payments_filtered_by_kind(fake_stripe, admin_client):
    review = _refused_payment(fake_stripe)

    wrong_currency = admin_client.get(
        REVIEW_CHANGELIST, {"kind__exact": "wrong_currency"}
    )
    duplicates = admin_client.get(REVIEW_CHANGELIST, {"kind__exact": "duplicate"})

    assert wrong_currency.status_code == 200
    assert review.stripe_payment_intent_id in wrong_currency.content.decode()
    assert review.stripe_payment_intent_id not in duplicates.content.decode()


@pytest.mark.usefixtures("_plain_static")
def test_staff_mark_a_refused_payment_reviewed(fake_stripe, client):
    review = _refused_payment(fake_stripe)
    _staff(client, "view_paymentreview", "change_paymentreview")

    client.post(
        REVIEW_CHANGELIST,
        {"action": "mark_reviewed", "_selected_action": [review.pk]},
        follow=True,
    )

    review.refresh_from_db()
    assert review.status == PaymentReview.Status.REVIEWED


@pytest.mark.usefixtures("_plain_static")
def test_retrying_a_refund_needs_the_refund_permission(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    course = CourseFactory()
    _fulfil(fake_stripe, _checkout(course).session.id)
    second = _paid_with_charge(fake_stripe, _other_session(fake_stripe, course)["id"])
    fake_stripe.fail_with(500, times=1)
    with django_capture_on_commit_callbacks(execute=True):
        payments.checkout_fulfill(session=second)
    review = PaymentReview.objects.get()
    data = {"action": "retry_refund", "_selected_action": [review.pk]}
    user = _staff(client, "view_paymentreview", "change_paymentreview")

    without = client.get(REVIEW_CHANGELIST)
    client.post(REVIEW_CHANGELIST, data, follow=True)
    still_pending = PaymentReview.objects.get().status
    user.user_permissions.add(Permission.objects.get(codename="refund_enrollment"))
    client.post(REVIEW_CHANGELIST, data, follow=True)

    assert b'value="retry_refund"' not in without.content
    assert still_pending == PaymentReview.Status.REFUND_PENDING
    assert PaymentReview.objects.get().status == PaymentReview.Status.REFUNDED
    assert len(fake_stripe.refunds) == 1


def _reviews(count: int) -> None:
    for _ in range(count):
        enrollment = EnrollmentFactory(paid=True)
        PaymentReview.objects.create(
            kind=PaymentReview.Kind.WRONG_CURRENCY,
            status=PaymentReview.Status.TO_REVIEW,
            enrollment=enrollment,
            stripe_payment_intent_id=f"pi_{enrollment.pk}",
            amount=Decimal("10.00"),
            currency="usd",
            reason="Paid in USD.",
        )


@pytest.mark.usefixtures("_plain_static")
def test_review_changelist_costs_the_same_queries_with_2_and_20_rows(admin_client):
    _reviews(2)
    with CaptureQueriesContext(connection) as with_2:
        admin_client.get(REVIEW_CHANGELIST)
    _reviews(18)

    with CaptureQueriesContext(connection) as with_20:
        admin_client.get(REVIEW_CHANGELIST)

    assert len(with_20.captured_queries) == len(with_2.captured_queries)
