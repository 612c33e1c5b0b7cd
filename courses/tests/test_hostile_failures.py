"""Failing dependencies: each gets a clear answer, nothing is lost, and the
service recovers without a restart."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import quote

import psycopg2
import pytest
import requests
from django.db import connection

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Course, Enrollment, StripeEvent
from courses.services.payments import enrollment_refund
from courses.tests.conftest import database_unreachable
from courses.tests.factories import CourseFactory, EnrollmentFactory
from courses.tests.fakes.stripe import FakeStripe
from courses.tests.test_hostile_gunicorn import BASE_DIR, running_gunicorn

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    """The test database, for a server started in another process."""
    db = connection.settings_dict
    credentials = quote(db["USER"], safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextlib.contextmanager
def _maintenance_connection() -> Iterator[psycopg2.extensions.cursor]:
    """A superuser session on the `postgres` database, outside the one under test."""
    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname="postgres",
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        host=db["HOST"],
        port=db["PORT"],
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def _own_backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate_server_backends(cursor, name: str, keep_pid: int) -> int:
    cursor.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> %s",
        [name, keep_pid],
    )
    return cursor.fetchone()[0]


@contextlib.contextmanager
def _database_refusing_connections(cursor, name: str, keep_pid: int):
    """Close the database to new sessions and end the server's open ones."""
    cursor.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        _terminate_server_backends(cursor, name, keep_pid)
        yield
    finally:
        cursor.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def _assert_clean_json_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert "Traceback" not in response.text
    assert "psycopg" not in response.text.lower()


@pytest.mark.postgres_only
def test_server_reconnects_after_its_database_sessions_are_killed():
    name = connection.settings_dict["NAME"]
    keep_pid = _own_backend_pid()

    with (
        running_gunicorn(database_url=_database_url()) as url,
        _maintenance_connection() as cursor,
    ):
        before = requests.get(f"{url}/api/health/", timeout=20)
        killed = _terminate_server_backends(cursor, name, keep_pid)
        after = [requests.get(f"{url}/api/health/", timeout=20) for _ in range(20)]

    assert before.status_code == 200
    assert killed >= 1
    assert [response.status_code for response in after] == [200] * 20


@pytest.mark.postgres_only
def test_server_answers_503_while_the_database_refuses_then_recovers():
    name = connection.settings_dict["NAME"]
    keep_pid = _own_backend_pid()
    course = CourseFactory()
    fake_stripe = FakeStripe()
    session = fake_stripe.checkout_session_add(
        amount=4999,
        metadata={"course_id": str(course.pk), "clerk_user_id": "user_offline"},
    )
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(session["id"])
    )

    def deliver(url: str) -> requests.Response:
        return requests.post(
            f"{url}/api/webhooks/stripe/",
            data=delivery.payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": delivery.signature,
            },
            timeout=20,
        )

    with (
        running_gunicorn(
            database_url=_database_url(),
            STRIPE_WEBHOOK_SECRET=fake_stripe.webhook_secret,
        ) as url,
        _maintenance_connection() as cursor,
    ):
        with _database_refusing_connections(cursor, name, keep_pid):
            health_down = requests.get(f"{url}/api/health/", timeout=20)
            catalog_down = requests.get(f"{url}/api/courses/", timeout=20)
            webhook_down = deliver(url)
        health_up = requests.get(f"{url}/api/health/", timeout=20)
        catalog_up = requests.get(f"{url}/api/courses/", timeout=20)
        webhook_up = deliver(url)

    _assert_clean_json_error(health_down, 503)
    assert health_down.json() == {"status": "degraded", "database": "unavailable"}
    _assert_clean_json_error(catalog_down, 503)
    assert int(catalog_down.headers["Retry-After"]) > 0
    # Not a 2xx, so Stripe delivers the event again later.
    _assert_clean_json_error(webhook_down, 503)
    assert health_up.status_code == 200
    assert catalog_up.json()["count"] == 1
    assert webhook_up.json() == {"detail": "processed"}
    enrollment = Enrollment.objects.get(course=course, clerk_user_id="user_offline")
    assert enrollment.status == Enrollment.Status.PAID


# --- Database unreachable, every endpoint (both engines) ----------------------------


def test_every_endpoint_answers_503_json_without_its_database(api_client, fake_stripe):
    course = CourseFactory()
    enrollment = EnrollmentFactory(course=course, clerk_user_id="user_no_db")
    session = fake_stripe.checkout_session_add(
        amount=4999,
        metadata={"course_id": str(course.pk), "clerk_user_id": "user_no_db"},
        client_reference_id="user_no_db",
    )
    delivery = fake_stripe.webhook_delivery(
        "checkout.session.completed", fake_stripe.session_pay(session["id"])
    )
    api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_no_db"))
    calls = [
        ("get", "/api/courses/", None),
        ("get", f"/api/courses/{course.pk}/", None),
        ("get", f"/api/courses/slug/{course.slug}/", None),
        ("get", "/api/my-courses/", None),
        ("get", "/api/enrollments/", None),
        ("get", f"/api/enrollments/{enrollment.pk}/", None),
        ("post", f"/api/courses/{course.pk}/create_checkout/", FRONTEND_URLS),
        ("post", f"/api/courses/{course.pk}/create_payment_intent/", None),
        ("post", "/api/enrollments/verify_payment/", {"session_id": session["id"]}),
    ]

    with database_unreachable():
        answers = [
            getattr(api_client, method)(path, data, format="json")
            for method, path, data in calls
        ]
        webhook = api_client.post(
            "/api/webhooks/stripe/", delivery.payload, **delivery.headers
        )
        health = api_client.get("/api/health/")
    webhook_again = api_client.post(
        "/api/webhooks/stripe/", delivery.payload, **delivery.headers
    )

    for (_method, path, _data), answer in zip(calls, answers, strict=True):
        assert answer.status_code == 503, path
        assert set(answer.json()) == {"detail"}, path
    assert webhook.status_code == 503
    assert health.status_code == 503
    assert webhook_again.status_code == 200
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID


# --- Clerk slow or down, under gunicorn --------------------------------------------


def _clerk_gunicorn(fake_clerk, tmp_path):
    # Sign-in reads the student: the server's database is migrated first.
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        timeout=120,
    )
    return running_gunicorn(
        database_url=database_url,
        CLERK_HTTP_TIMEOUT_SECONDS="1",
        **fake_clerk.env(),
    )


def test_slow_jwks_is_abandoned_with_503_then_sign_in_recovers(fake_clerk, tmp_path):
    headers = {"Authorization": fake_clerk.authorization("user_slow")}
    fake_clerk.add_user("user_slow", email="slow@example.com")
    fake_clerk.set_delay(20, path="/.well-known/jwks.json")

    with _clerk_gunicorn(fake_clerk, tmp_path) as url:
        started = time.monotonic()
        slow = requests.get(f"{url}/api/me/", headers=headers, timeout=30)
        waited = time.monotonic() - started
        fake_clerk.heal()
        healed = [
            requests.get(f"{url}/api/me/", headers=headers, timeout=30)
            for _ in range(4)
        ]

    _assert_clean_json_error(slow, 503)
    # Bounded by CLERK_HTTP_TIMEOUT_SECONDS, not by Clerk's 20 s.
    assert waited < 15
    assert [response.status_code for response in healed] == [200] * 4
    assert healed[0].json()["email"] == "slow@example.com"


def test_clerk_down_answers_503_then_sign_in_recovers(fake_clerk, tmp_path):
    headers = {"Authorization": fake_clerk.authorization("user_down")}
    fake_clerk.add_user("user_down", email="down@example.com")

    with _clerk_gunicorn(fake_clerk, tmp_path) as url:
        fake_clerk.stop()
        down = requests.get(f"{url}/api/me/", headers=headers, timeout=30)
        fake_clerk.start()
        up = requests.get(f"{url}/api/me/", headers=headers, timeout=30)

    _assert_clean_json_error(down, 503)
    assert up.status_code == 200


def test_slow_backend_api_is_abandoned_with_503_then_recovers(fake_clerk, tmp_path):
    headers = {"Authorization": fake_clerk.authorization("user_api")}
    fake_clerk.add_user("user_api", email="api@example.com")
    fake_clerk.set_delay(20, path="/v1/users/")

    with _clerk_gunicorn(fake_clerk, tmp_path) as url:
        started = time.monotonic()
        slow = requests.get(f"{url}/api/me/", headers=headers, timeout=30)
        waited = time.monotonic() - started
        fake_clerk.heal()
        up = requests.get(f"{url}/api/me/", headers=headers, timeout=30)

    _assert_clean_json_error(slow, 503)
    assert waited < 15
    assert up.status_code == 200
    assert up.json()["email"] == "api@example.com"


# --- Stripe failing, on a live server with real Clerk tokens ------------------------

FRONTEND_URLS = {
    "success_url": "http://localhost:3000/payment/success",
    "cancel_url": "http://localhost:3000/courses",
}


def _enrollment_rows() -> list[dict]:
    return list(Enrollment.objects.order_by("pk").values())


@contextlib.contextmanager
def stripe_outage(fake_stripe, settings, outage: str) -> Iterator[None]:
    """Stripe answers 500 ("error") or nothing listens ("unreachable"); then back."""
    if outage == "error":
        fake_stripe.fail_with(500)
    else:
        fake_stripe.stop()
    try:
        yield
    finally:
        if outage == "error":
            fake_stripe.recover()
        else:
            fake_stripe.start()
            settings.STRIPE_API_BASE = fake_stripe.base_url


class _Student:
    """A signed-in student talking to the live server over HTTP."""

    def __init__(self, live_server, fake_clerk, clerk_user_id: str) -> None:
        fake_clerk.add_user(clerk_user_id, email=f"{clerk_user_id}@example.com")
        self.url = live_server.url
        self.fake_clerk = fake_clerk
        self.clerk_user_id = clerk_user_id

    def post(self, path: str, data: dict | None = None) -> requests.Response:
        return requests.post(
            self.url + path,
            json=data,
            headers={
                "Authorization": self.fake_clerk.authorization(self.clerk_user_id),
                "Accept-Language": "en",
            },
            timeout=30,
        )

    def checkout(self, course: Course) -> requests.Response:
        return self.post(f"/api/courses/{course.pk}/create_checkout/", FRONTEND_URLS)

    def verify(self, session_id: str) -> requests.Response:
        return self.post("/api/enrollments/verify_payment/", {"session_id": session_id})


@pytest.fixture
def student(live_server, fake_clerk, fake_stripe):
    return _Student(live_server, fake_clerk, "user_buyer")


@pytest.mark.parametrize("outage", ["error", "unreachable"])
def test_stripe_failing_during_checkout_is_502_and_no_one_is_enrolled(
    student, fake_stripe, settings, outage
):
    course = CourseFactory(price=Decimal("49.99"))
    EnrollmentFactory(course=course, paid=True)
    before = _enrollment_rows()

    with stripe_outage(fake_stripe, settings, outage):
        failed = student.checkout(course)
        after = _enrollment_rows()
    recovered = student.checkout(course)

    _assert_clean_json_error(failed, 502)
    # Only the student's pending row, written before Stripe on purpose, is new.
    assert after[: len(before)] == before
    assert [row["status"] for row in after[len(before) :]] == ["pending"]
    assert recovered.status_code == 200
    assert recovered.json()["url"]


@pytest.mark.parametrize("outage", ["error", "unreachable"])
def test_stripe_failing_during_verify_payment_is_502_then_it_enrolls(
    student, fake_stripe, settings, outage
):
    course = CourseFactory(price=Decimal("49.99"))
    session_id = student.checkout(course).json()["session_id"]
    fake_stripe.session_pay(session_id)
    before = _enrollment_rows()

    with stripe_outage(fake_stripe, settings, outage):
        failed = student.verify(session_id)
        after = _enrollment_rows()
    recovered = student.verify(session_id)

    _assert_clean_json_error(failed, 502)
    assert after == before
    assert recovered.status_code == 200
    assert recovered.json()["status"] == "success"


@pytest.mark.parametrize("outage", ["error", "unreachable"])
def test_stripe_failing_during_a_refund_keeps_the_enrollment_paid(
    student, fake_stripe, settings, outage
):
    course = CourseFactory(price=Decimal("49.99"))
    session_id = student.checkout(course).json()["session_id"]
    fake_stripe.session_pay(session_id)
    enrollment_id = student.verify(session_id).json()["enrollment"]["id"]
    before = _enrollment_rows()

    with (
        stripe_outage(fake_stripe, settings, outage),
        pytest.raises(stripe_gateway.PaymentProviderError),
    ):
        enrollment_refund(enrollment_id=enrollment_id)
    after = _enrollment_rows()
    refunded = enrollment_refund(enrollment_id=enrollment_id)

    assert after == before
    assert refunded.status == Enrollment.Status.REFUNDED
    assert len(fake_stripe.refunds) == 1


# --- A webhook that fails halfway -----------------------------------------------------

TRIGGER_MESSAGE = "enrollment writes refused for this test"


@contextlib.contextmanager
def enrollment_updates_refused() -> Iterator[None]:
    """A database trigger that makes every UPDATE of an enrollment raise."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION hostile_refuse_update() RETURNS trigger"
                " LANGUAGE plpgsql AS $$ BEGIN"
                f" RAISE EXCEPTION '{TRIGGER_MESSAGE}'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER hostile_refuse_update BEFORE UPDATE"
                " ON courses_enrollment FOR EACH ROW"
                " EXECUTE FUNCTION hostile_refuse_update()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER hostile_refuse_update BEFORE UPDATE"
                " ON courses_enrollment"
                f" BEGIN SELECT RAISE(ABORT, '{TRIGGER_MESSAGE}'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "DROP TRIGGER hostile_refuse_update ON courses_enrollment"
                )
                cursor.execute("DROP FUNCTION hostile_refuse_update()")
            else:
                cursor.execute("DROP TRIGGER hostile_refuse_update")


def _deliver(live_server, delivery) -> requests.Response:
    return requests.post(
        f"{live_server.url}/api/webhooks/stripe/",
        data=delivery.payload,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": delivery.signature,
        },
        timeout=30,
    )


def test_webhook_failing_halfway_rolls_back_keeps_the_error_and_redelivery_works(
    student, fake_stripe, live_server
):
    course = CourseFactory(price=Decimal("49.99"))
    session_id = student.checkout(course).json()["session_id"]
    session = fake_stripe.session_pay(session_id)
    delivery = fake_stripe.webhook_delivery("checkout.session.completed", session)
    before = _enrollment_rows()

    with enrollment_updates_refused():
        failed = _deliver(live_server, delivery)
        after = _enrollment_rows()
        event_after_failure = StripeEvent.objects.get(pk=delivery.event["id"])
    redelivered = _deliver(live_server, delivery)
    repeated = _deliver(live_server, delivery)

    _assert_clean_json_error(failed, 500)
    assert after == before
    assert event_after_failure.processed_at is None
    assert event_after_failure.attempts == 1
    assert TRIGGER_MESSAGE in event_after_failure.last_error
    assert redelivered.status_code == 200
    assert repeated.json() == {"detail": "duplicate"}
    event = StripeEvent.objects.get(pk=delivery.event["id"])
    assert event.processed_at is not None
    assert event.attempts == 2
    assert event.last_error == ""
    enrollment = Enrollment.objects.get(stripe_session_id=session_id)
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("49.99")
