"""Clerk's user webhooks, signed as Svix signs them, over real HTTP to a live
server: create, update, order, deletion, repeats, signatures, failures."""

import threading
import time
from decimal import Decimal

import pytest
import requests
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from courses.models import ClerkWebhookDelivery, Enrollment, Student
from courses.tests.factories import EnrollmentFactory, StudentFactory
from courses.tests.fakes.clerk import svix_signature
from courses.tests.test_hostile_failures import (
    TRIGGER_MESSAGE,
    enrollment_updates_refused,
)

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/webhooks/clerk/"


def _deliver(live_server, delivery, **headers: str | None) -> requests.Response:
    """POST a delivery as Svix does; a header given as None is left out."""
    sent = {**delivery.headers, "Accept-Language": "en", **headers}
    return requests.post(
        live_server.url + URL,
        data=delivery.payload,
        headers={name: value for name, value in sent.items() if value is not None},
        timeout=30,
    )


def _me(live_server, authorization: str) -> requests.Response:
    return requests.get(
        f"{live_server.url}/api/me/",
        headers={"Authorization": authorization, "Accept-Language": "en"},
        timeout=30,
    )


# --- Create, update, order ------------------------------------------------------------


def test_user_created_creates_the_student_with_the_primary_email(
    fake_clerk, live_server
):
    fake_clerk.add_user(
        "user_ada",
        email="ada@example.com",
        other_emails=("old@example.com",),
        first_name="Ada",
        last_name="Lovelace",
        image_url="https://img.clerk.com/ada.png",
    )
    delivery = fake_clerk.user_event("user.created", "user_ada")

    response = _deliver(live_server, delivery)

    student = Student.objects.get()
    assert response.status_code == 200
    assert response.json() == {"detail": "processed"}
    assert (student.clerk_user_id, student.email) == ("user_ada", "ada@example.com")
    assert (student.first_name, student.last_name) == ("Ada", "Lovelace")
    assert student.image_url == "https://img.clerk.com/ada.png"
    assert student.clerk_updated_at.timestamp() * 1000 == pytest.approx(
        delivery.event["data"]["updated_at"]
    )
    stored = ClerkWebhookDelivery.objects.get()
    assert (stored.id, stored.type) == (delivery.message_id, "user.created")
    assert (stored.clerk_user_id, stored.attempts) == ("user_ada", 1)
    assert stored.processed_at is not None


def test_user_updated_changes_the_student(fake_clerk, live_server):
    fake_clerk.add_user("user_ada", email="ada@example.com", first_name="Ada")
    _deliver(live_server, fake_clerk.user_event("user.created", "user_ada"))
    fake_clerk.update_user("user_ada", email="countess@example.com", last_name="King")

    response = _deliver(live_server, fake_clerk.user_event("user.updated", "user_ada"))

    student = Student.objects.get()
    assert response.status_code == 200
    assert student.email == "countess@example.com"
    assert student.full_name == "Ada King"


def test_an_older_update_arriving_after_a_newer_one_changes_nothing(
    fake_clerk, live_server
):
    fake_clerk.add_user("user_ada", email="first@example.com")
    older = fake_clerk.user_event("user.updated", "user_ada")
    fake_clerk.update_user("user_ada", email="second@example.com")
    newer = fake_clerk.user_event("user.updated", "user_ada")

    answers = [_deliver(live_server, d).status_code for d in (newer, older)]

    assert answers == [200, 200]
    assert Student.objects.get().email == "second@example.com"
    assert ClerkWebhookDelivery.objects.filter(processed_at__isnull=False).count() == 2


def test_user_created_arriving_after_user_updated_keeps_the_update(
    fake_clerk, live_server
):
    fake_clerk.add_user("user_ada", email="first@example.com")
    created = fake_clerk.user_event("user.created", "user_ada")
    fake_clerk.update_user("user_ada", first_name="Ada")
    updated = fake_clerk.user_event("user.updated", "user_ada")

    _deliver(live_server, updated)
    _deliver(live_server, created)

    assert Student.objects.get().first_name == "Ada"


# --- Deletion -----------------------------------------------------------------------


def test_user_deleted_erases_the_person_and_keeps_the_payments(fake_clerk, live_server):
    StudentFactory(clerk_user_id="user_gone", email="gone@example.com")
    paid = EnrollmentFactory(
        clerk_user_id="user_gone",
        student_email="gone@example.com",
        student_name="Gone Away",
        price_paid=Decimal("49.99"),
        stripe_payment_intent_id="pi_kept",
        stripe_session_id="cs_kept",
        paid=True,
    )
    other = EnrollmentFactory(clerk_user_id="user_stays", student_name="Stays")
    staff = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    LogEntry.objects.log_actions(
        user_id=staff.pk, queryset=[paid], action_flag=CHANGE, change_message="x"
    )

    response = _deliver(live_server, fake_clerk.user_event("user.deleted", "user_gone"))

    student = Student.objects.get(clerk_user_id="user_gone")
    paid.refresh_from_db()
    assert response.status_code == 200
    assert student.deleted_at is not None
    assert (student.email, student.first_name, student.last_name) == ("", "", "")
    assert student.image_url == ""
    assert (paid.student_email, paid.student_name) == ("", "")
    assert paid.price_paid == Decimal("49.99")
    assert paid.status == Enrollment.Status.PAID
    assert (paid.stripe_payment_intent_id, paid.stripe_session_id) == (
        "pi_kept",
        "cs_kept",
    )
    assert "gone@example.com" not in LogEntry.objects.get().object_repr
    other.refresh_from_db()
    assert other.student_name == "Stays"


def test_an_unexpired_token_of_a_deleted_student_is_refused(fake_clerk, live_server):
    fake_clerk.add_user("user_gone", email="gone@example.com")
    authorization = fake_clerk.authorization("user_gone", expires_in=3600)
    before = _me(live_server, authorization)

    _deliver(live_server, fake_clerk.user_event("user.deleted", "user_gone"))
    after = _me(live_server, authorization)

    assert before.status_code == 200
    assert after.status_code == 401
    assert after.json() == {"detail": "This account has been deleted."}
    assert after.headers["WWW-Authenticate"] == "Bearer"


def test_user_deleted_for_a_student_never_seen_leaves_a_tombstone(
    fake_clerk, live_server
):
    fake_clerk.add_user("user_late", email="late@example.com")
    created = fake_clerk.user_event("user.created", "user_late")

    deleted = _deliver(live_server, fake_clerk.user_event("user.deleted", "user_late"))
    created_late = _deliver(live_server, created)

    student = Student.objects.get()
    assert (deleted.status_code, created_late.status_code) == (200, 200)
    assert student.deleted_at is not None
    assert student.email == ""


def test_user_deleted_twice_keeps_one_erased_tombstone(fake_clerk, live_server):
    StudentFactory(clerk_user_id="user_gone")

    answers = [
        _deliver(live_server, fake_clerk.user_event("user.deleted", "user_gone"))
        for _ in range(2)
    ]

    assert [answer.json()["detail"] for answer in answers] == ["processed"] * 2
    assert Student.objects.get().is_deleted


# --- Repeats, other types ------------------------------------------------------------


def test_the_same_delivery_twice_is_applied_once(fake_clerk, live_server):
    fake_clerk.add_user("user_ada", email="ada@example.com")
    delivery = fake_clerk.user_event("user.created", "user_ada")
    first = _deliver(live_server, delivery)
    Student.objects.update(email="changed@example.com")

    again = _deliver(live_server, delivery)

    assert first.json() == {"detail": "processed"}
    assert again.status_code == 200
    assert again.json() == {"detail": "duplicate"}
    assert Student.objects.get().email == "changed@example.com"
    assert ClerkWebhookDelivery.objects.get().attempts == 1


@pytest.mark.parametrize("event_type", ["session.created", "email.created", "user"])
def test_other_event_types_are_acknowledged_and_ignored(
    fake_clerk, live_server, event_type
):
    delivery = fake_clerk.webhook_delivery(event_type, {"id": "sess_1", "x": 1})

    response = _deliver(live_server, delivery)

    assert response.status_code == 200
    assert response.json() == {"detail": "processed"}
    assert not Student.objects.exists()
    assert ClerkWebhookDelivery.objects.get().type == event_type


# --- Signatures ---------------------------------------------------------------------

SIX_MINUTES = 6 * 60

BAD_DELIVERIES = {
    "no_signature": lambda clerk, d: {"svix-signature": None},
    "no_message_id": lambda clerk, d: {"svix-id": None},
    "no_timestamp": lambda clerk, d: {"svix-timestamp": None},
    "another_message_id": lambda clerk, d: {"svix-id": "msg_other"},
    "signed_with_another_secret": lambda clerk, d: {
        "svix-signature": svix_signature(
            "whsec_b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz",
            d.message_id,
            int(d.headers["svix-timestamp"]),
            d.payload,
        )
    },
    "signature_of_another_body": lambda clerk, d: {
        "svix-signature": svix_signature(
            clerk.webhook_secret, d.message_id, int(time.time()), b"{}"
        )
    },
    "stale_timestamp": lambda clerk, d: _resigned(clerk, d, -SIX_MINUTES),
    "timestamp_in_the_future": lambda clerk, d: _resigned(clerk, d, SIX_MINUTES),
    "timestamp_not_a_number": lambda clerk, d: {"svix-timestamp": "yesterday"},
    "garbage_signature": lambda clerk, d: {"svix-signature": "v1,@@@ not base64"},
    "signature_without_version": lambda clerk, d: {"svix-signature": "abc"},
    "other_version_only": lambda clerk, d: {
        "svix-signature": d.headers["svix-signature"].replace("v1,", "v2,")
    },
}


def _resigned(clerk, delivery, shift_seconds: int) -> dict[str, str]:
    """Correctly signed, but at a timestamp shifted from now."""
    timestamp = int(time.time()) + shift_seconds
    return {
        "svix-timestamp": str(timestamp),
        "svix-signature": svix_signature(
            clerk.webhook_secret, delivery.message_id, timestamp, delivery.payload
        ),
    }


@pytest.mark.parametrize("make_headers", BAD_DELIVERIES.values(), ids=BAD_DELIVERIES)
def test_a_missing_wrong_or_stale_signature_answers_400_and_changes_nothing(
    fake_clerk, live_server, make_headers
):
    fake_clerk.add_user("user_ada", email="ada@example.com")
    delivery = fake_clerk.user_event("user.created", "user_ada")

    response = _deliver(live_server, delivery, **make_headers(fake_clerk, delivery))

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid signature."}
    assert not Student.objects.exists()
    assert not ClerkWebhookDelivery.objects.exists()


def test_a_body_that_is_not_utf8_answers_400(fake_clerk, live_server):
    timestamp = int(time.time())
    body = b'{"type": "user.created", "data": {"id": "user_1"}} \xff'
    headers = {
        "Content-Type": "application/json",
        "svix-id": "msg_bytes",
        "svix-timestamp": str(timestamp),
        "svix-signature": svix_signature(
            fake_clerk.webhook_secret, "msg_bytes", timestamp, body
        ),
    }

    response = requests.post(
        live_server.url + URL, data=body, headers=headers, timeout=30
    )

    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_signature_made_by_hand_with_the_documented_hmac_is_accepted(
    fake_clerk, live_server
):
    fake_clerk.add_user("user_ada", email="ada@example.com")
    delivery = fake_clerk.user_event("user.created", "user_ada")
    timestamp = int(delivery.headers["svix-timestamp"])
    by_hand = svix_signature(
        fake_clerk.webhook_secret, delivery.message_id, timestamp, delivery.payload
    )
    # Svix lists one signature per active secret, space-separated.
    several = f"v1,c29tZXRoaW5nIGVsc2U= {by_hand}"

    response = _deliver(live_server, delivery, **{"svix-signature": several})

    assert by_hand == delivery.headers["svix-signature"]
    assert response.status_code == 200
    assert Student.objects.get().email == "ada@example.com"


@pytest.mark.parametrize("secret", ["", "whsec_"])
def test_without_a_signing_secret_the_webhook_answers_503(
    fake_clerk, live_server, settings, secret
):
    fake_clerk.add_user("user_ada", email="ada@example.com")
    delivery = fake_clerk.user_event("user.created", "user_ada")
    settings.CLERK_WEBHOOK_SIGNING_SECRET = secret

    response = _deliver(live_server, delivery)

    assert response.status_code == 503
    assert response.json() == {"detail": "Webhooks are not configured."}
    assert not Student.objects.exists()


def test_the_webhook_is_never_throttled(fake_clerk, live_server, low_rates):
    fake_clerk.add_user("user_ada", email="ada@example.com")

    statuses = [
        _deliver(live_server, fake_clerk.user_event("user.updated", "user_ada"))
        for _ in range(5)
    ]

    assert [response.status_code for response in statuses] == [200] * 5


@pytest.fixture
def low_rates(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    rates = {"anon": "1/minute", "user": "1/minute", "checkout": "1/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


# --- A delivery that fails halfway -------------------------------------------------


def test_a_failure_rolls_back_records_the_error_and_the_retry_succeeds(
    fake_clerk, live_server
):
    StudentFactory(clerk_user_id="user_gone", email="gone@example.com")
    EnrollmentFactory(clerk_user_id="user_gone", student_email="gone@example.com")
    delivery = fake_clerk.user_event("user.deleted", "user_gone")

    with enrollment_updates_refused():
        failed = _deliver(live_server, delivery)
        student_after_failure = Student.objects.get()
        stored_after_failure = ClerkWebhookDelivery.objects.get()
    retried = _deliver(live_server, delivery)
    repeated = _deliver(live_server, delivery)

    assert failed.status_code == 500
    assert failed.json() == {
        "detail": "The event could not be processed; it will be retried."
    }
    # The Student's erasure rolled back with the enrollments' one.
    assert student_after_failure.email == "gone@example.com"
    assert student_after_failure.deleted_at is None
    assert stored_after_failure.processed_at is None
    assert stored_after_failure.attempts == 1
    assert TRIGGER_MESSAGE in stored_after_failure.last_error
    assert retried.json() == {"detail": "processed"}
    assert repeated.json() == {"detail": "duplicate"}
    stored = ClerkWebhookDelivery.objects.get()
    assert (stored.attempts, stored.last_error) == (2, "")
    assert Student.objects.get().is_deleted
    assert Enrollment.objects.get().student_email == ""


# --- At once (PostgreSQL: real row locks) ---------------------------------------------


def _post_at_once(deliveries) -> list[tuple[int, str]]:
    """POST each delivery from its own thread, all at the same instant."""
    barrier = threading.Barrier(len(deliveries))
    answers: list[tuple[int, str]] = []

    def deliver(delivery) -> None:
        try:
            barrier.wait()
            response = Client().post(
                URL,
                data=delivery.payload,
                content_type="application/json",
                headers={
                    k: v for k, v in delivery.headers.items() if k != "Content-Type"
                },
            )
            answers.append((response.status_code, response.json()["detail"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(answers, key=lambda answer: answer[1] != "processed")


@pytest.mark.postgres_only
def test_the_same_delivery_ten_times_at_once_is_applied_once(fake_clerk):
    fake_clerk.add_user("user_ada", email="ada@example.com")
    delivery = fake_clerk.user_event("user.created", "user_ada")

    answers = _post_at_once([delivery] * 10)

    assert answers == [(200, "processed")] + [(200, "duplicate")] * 9
    stored = ClerkWebhookDelivery.objects.get()
    assert (stored.attempts, stored.last_error) == (1, "")
    assert Student.objects.get().email == "ada@example.com"


@pytest.mark.postgres_only
def test_a_deletion_delivered_ten_times_at_once_is_applied_once(fake_clerk):
    StudentFactory(clerk_user_id="user_gone")
    EnrollmentFactory(clerk_user_id="user_gone")
    delivery = fake_clerk.user_event("user.deleted", "user_gone")

    answers = _post_at_once([delivery] * 10)

    assert answers == [(200, "processed")] + [(200, "duplicate")] * 9
    assert ClerkWebhookDelivery.objects.get().attempts == 1
    assert Student.objects.get().is_deleted
    assert Enrollment.objects.get().student_email == ""


@pytest.mark.postgres_only
def test_retries_of_a_failed_delivery_at_once_are_applied_once(fake_clerk):
    fake_clerk.add_user("user_ada", email="ada@example.com")
    delivery = fake_clerk.user_event("user.created", "user_ada")
    ClerkWebhookDelivery.objects.create(
        id=delivery.message_id,
        type="user.created",
        clerk_user_id="user_ada",
        attempts=1,
        last_error="OperationalError: server closed the connection",
    )

    answers = _post_at_once([delivery] * 10)

    assert answers == [(200, "processed")] + [(200, "duplicate")] * 9
    stored = ClerkWebhookDelivery.objects.get()
    assert (stored.attempts, stored.last_error) == (2, "")
    assert Student.objects.get().email == "ada@example.com"


@pytest.mark.postgres_only
def test_ten_updates_of_one_new_user_at_once_leave_the_newest_data(fake_clerk):
    fake_clerk.add_user("user_ada", email="v0@example.com")
    deliveries = []
    for version in range(1, 11):
        fake_clerk.update_user("user_ada", email=f"v{version}@example.com")
        deliveries.append(fake_clerk.user_event("user.updated", "user_ada"))

    answers = _post_at_once(deliveries)

    assert answers == [(200, "processed")] * 10
    assert Student.objects.get().email == "v10@example.com"
