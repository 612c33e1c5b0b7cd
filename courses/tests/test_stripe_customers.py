"""One Stripe Customer per student: made once (even by two first checkouts at
once), named in every payment, told of a new email, deleted with the student."""

import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from courses.authentication import ClerkUser
from courses.models import Student
from courses.services import payments
from courses.tests.factories import CourseFactory, StudentFactory

pytestmark = pytest.mark.django_db

CLERK_URL = "/api/webhooks/clerk/"


def _student(clerk_user_id: str = "user_ada") -> ClerkUser:
    return ClerkUser(
        clerk_user_id=clerk_user_id,
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
    )


def _checkout(course, student=None):
    return payments.checkout_start(
        course=course,
        student=student or _student(),
        success_url="http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://localhost:3000/cancel",
    )


def _deliver(fake_clerk, event_type: str, user_id: str):
    delivery = fake_clerk.user_event(event_type, user_id)
    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in delivery.headers.items()
        if name != "Content-Type"
    }
    response = Client().post(
        CLERK_URL, delivery.payload, content_type="application/json", **headers
    )
    assert response.status_code == 200, response.content
    return response


def test_the_first_payment_makes_a_customer_every_later_one_reuses(fake_stripe):
    first = _checkout(CourseFactory())
    intent = payments.payment_intent_start(course=CourseFactory(), student=_student())
    second = _checkout(CourseFactory())

    (customer,) = fake_stripe.customers
    student = Student.objects.get()
    assert len(fake_stripe.requests_to("/v1/customers", "POST")) == 1
    assert student.stripe_customer_id == customer["id"]
    assert customer["email"] == "ada@example.com"
    assert customer["name"] == "Ada Lovelace"
    assert customer["metadata"] == {"clerk_user_id": "user_ada"}
    for session in (first.session, second.session):
        sent = fake_stripe.session(session.id)
        assert (sent["customer"], sent["customer_email"]) == (customer["id"], None)
    assert (
        fake_stripe.payment_intent(intent.payment_intent.id)["customer"]
        == (customer["id"])
    )


def test_the_customer_is_made_from_the_students_record(fake_stripe):
    StudentFactory(
        clerk_user_id="user_ada", email="clerk@example.com", first_name="Countess"
    )

    _checkout(CourseFactory())

    (customer,) = fake_stripe.customers
    assert customer["email"] == "clerk@example.com"
    assert customer["name"] == "Countess Lovelace"
    assert Student.objects.get().stripe_customer_email == "clerk@example.com"


def test_two_students_have_two_customers(fake_stripe):
    _checkout(CourseFactory(), _student("user_ada"))
    _checkout(CourseFactory(), _student("user_grace"))

    assert len(fake_stripe.customers) == 2
    assert Student.objects.exclude(stripe_customer_id="").count() == 2


def test_a_customer_deleted_at_stripe_is_replaced(fake_stripe):
    course = CourseFactory()
    first = _checkout(course)
    old = Student.objects.get().stripe_customer_id
    fake_stripe.customer(old).update(deleted=True)

    second = _checkout(CourseFactory())

    new = Student.objects.get().stripe_customer_id
    assert first.session.id != second.session.id
    assert new not in ("", old)
    assert fake_stripe.session(second.session.id)["customer"] == new


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_first_checkouts_at_once_make_one_customer(fake_stripe):
    courses = [CourseFactory(), CourseFactory()]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def buy(course) -> None:
        try:
            barrier.wait(timeout=10)
            _checkout(course)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(course,)) for course in courses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    (customer,) = fake_stripe.customers
    keys = {r.idempotency_key for r in fake_stripe.requests_to("/v1/customers")}
    assert errors == []
    assert len(keys) == 1
    assert Student.objects.get().stripe_customer_id == customer["id"]
    assert {s["customer"] for s in fake_stripe.sessions} == {customer["id"]}


# --- Kept in step with Clerk ----------------------------------------------------------


def _student_with_customer(fake_clerk, fake_stripe) -> str:
    fake_clerk.add_user("user_ada", email="ada@example.com", first_name="Ada")
    _deliver(fake_clerk, "user.created", "user_ada")
    _checkout(CourseFactory(price=Decimal("10.00")))
    return Student.objects.get().stripe_customer_id


def test_a_new_email_in_clerk_reaches_the_customer_once(
    fake_clerk, fake_stripe, django_capture_on_commit_callbacks
):
    customer_id = _student_with_customer(fake_clerk, fake_stripe)
    fake_clerk.update_user("user_ada", email="countess@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        _deliver(fake_clerk, "user.updated", "user_ada")
    with django_capture_on_commit_callbacks(execute=True):
        fake_clerk.update_user("user_ada", last_name="King")
        _deliver(fake_clerk, "user.updated", "user_ada")

    updates = fake_stripe.requests_to(f"/v1/customers/{customer_id}", "POST")
    assert fake_stripe.customer(customer_id)["email"] == "countess@example.com"
    assert Student.objects.get().stripe_customer_email == "countess@example.com"
    assert [r.params for r in updates] == [{"email": "countess@example.com"}]


def test_a_customer_update_stripe_refuses_leaves_the_webhook_done_and_is_retried(
    fake_clerk, fake_stripe, django_capture_on_commit_callbacks
):
    customer_id = _student_with_customer(fake_clerk, fake_stripe)
    fake_clerk.update_user("user_ada", email="countess@example.com")
    fake_stripe.fail_with(500, times=1)

    with django_capture_on_commit_callbacks(execute=True):
        response = _deliver(fake_clerk, "user.updated", "user_ada")
    stale = Student.objects.get().stripe_customer_email
    out = StringIO()
    call_command("reconcile_payments", "--since", "1h", stdout=out)

    assert response.json() == {"detail": "processed"}
    assert stale == "ada@example.com"
    assert fake_stripe.customer(customer_id)["email"] == "countess@example.com"
    assert Student.objects.get().stripe_customer_email == "countess@example.com"
    assert "Stripe Customer of user_ada: email updated" in out.getvalue()


def test_deleting_the_student_deletes_the_customer_and_sends_nothing_more(
    fake_clerk, fake_stripe, django_capture_on_commit_callbacks
):
    customer_id = _student_with_customer(fake_clerk, fake_stripe)

    with django_capture_on_commit_callbacks(execute=True):
        _deliver(fake_clerk, "user.deleted", "user_ada")
    requests_after = len(fake_stripe.requests)
    call_command("reconcile_payments", "--since", "1h", stdout=StringIO())

    student = Student.objects.get()
    assert fake_stripe.customer(customer_id)["deleted"] is True
    assert (student.stripe_customer_id, student.stripe_customer_email) == ("", "")
    customer_requests = [
        r for r in fake_stripe.requests[requests_after:] if "/customers" in r.path
    ]
    assert customer_requests == []


def test_a_customer_deletion_stripe_refuses_is_retried_by_reconcile(
    fake_clerk, fake_stripe, django_capture_on_commit_callbacks
):
    customer_id = _student_with_customer(fake_clerk, fake_stripe)
    fake_stripe.fail_with(500, times=1)

    with django_capture_on_commit_callbacks(execute=True):
        response = _deliver(fake_clerk, "user.deleted", "user_ada")
    kept = Student.objects.get().stripe_customer_id
    out = StringIO()
    call_command("reconcile_payments", "--since", "1h", stdout=out)

    assert response.json() == {"detail": "processed"}
    assert kept == customer_id
    assert fake_stripe.customer(customer_id)["deleted"] is True
    assert Student.objects.get().stripe_customer_id == ""
    assert "Stripe Customer of user_ada (erased): deleted" in out.getvalue()
