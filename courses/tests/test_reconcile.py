import datetime
import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from courses.authentication import ClerkUser
from courses.management.commands.reconcile_payments import parse_duration
from courses.models import Enrollment
from courses.services import payments
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def _reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile_payments", *args, stdout=out)
    return out.getvalue()


def _checkout(course, clerk_user_id="user_1"):
    return payments.checkout_start(
        course=course,
        student=ClerkUser(clerk_user_id=clerk_user_id, email="a@example.com"),
        success_url="http://localhost:3000/ok?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://localhost:3000/cancel",
    )


def test_reconcile_repairs_a_paid_session_whose_webhook_never_came(fake_stripe):
    course = CourseFactory(price=Decimal("49.99"))
    started = _checkout(course)
    fake_stripe.session_pay(started.session.id)  # paid; the webhook was lost

    first = _reconcile("--since", "72h")
    second = _reconcile("--since", "72h")

    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("49.99")
    assert f"Repaired enrollment {enrollment.pk}" in first
    assert "1 payment(s) repaired" in first
    assert "Repaired" not in second
    assert "0 payment(s) repaired" in second


def test_reconcile_creates_an_enrollment_that_was_never_written(fake_stripe):
    course = CourseFactory()
    created = fake_stripe.checkout_session_add(
        amount=4999, metadata={"course_id": str(course.pk), "clerk_user_id": "user_5"}
    )
    fake_stripe.session_pay(created["id"])

    output = _reconcile()

    assert "1 payment(s) repaired" in output
    assert Enrollment.objects.get().clerk_user_id == "user_5"


def test_reconcile_leaves_unpaid_foreign_and_older_sessions_alone(fake_stripe):
    course = CourseFactory()
    open_session = _checkout(course, clerk_user_id="user_1")
    old = _checkout(CourseFactory(), clerk_user_id="user_2")
    fake_stripe.session_pay(old.session.id)
    fake_stripe.session_update(old.session.id, created=int(time.time()) - 3 * 3600)
    foreign = fake_stripe.checkout_session_add(amount=100, metadata={})
    fake_stripe.session_pay(foreign["id"])

    output = _reconcile("--since", "2h")

    assert "0 payment(s) repaired" in output
    assert not Enrollment.objects.paid().exists()
    assert Enrollment.objects.get(pk=open_session.enrollment.pk).status == "pending"


def test_reconcile_asks_stripe_for_completed_sessions_of_the_period(fake_stripe):
    before = int(time.time())

    _reconcile("--since", "30m")

    after = int(time.time())
    (request,) = fake_stripe.requests_to("/v1/checkout/sessions", "GET")
    assert request.params["status"] == "complete"
    assert before - 1800 <= int(request.params["created"]["gte"]) <= after - 1800


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime.timedelta(minutes=30)),
        ("72h", datetime.timedelta(hours=72)),
        ("2d", datetime.timedelta(days=2)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("since", ["72", "h", "0h", "-1d", "3w"])
def test_reconcile_refuses_a_malformed_period(fake_stripe, since):
    with pytest.raises(CommandError):
        _reconcile("--since", since)


def test_reconcile_reports_an_unreachable_stripe(fake_stripe):
    fake_stripe.stop()

    with pytest.raises(CommandError, match="Stripe could not be reached"):
        _reconcile()


def test_reconcile_without_stripe_configured_fails_clearly(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(CommandError, match="STRIPE_SECRET_KEY"):
        _reconcile()
