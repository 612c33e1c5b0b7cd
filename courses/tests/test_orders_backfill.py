"""The data migration that gives the payments made before orders existed their
orders, run for real between the two migrations."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from courses.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("courses", "0006_orders")]
AFTER = [("courses", "0007_orders_backfill")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_orders():
    apps = _migrate(BEFORE)
    yield apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_payments_get_their_orders(before_orders, settings):
    settings.STRIPE_CURRENCY = "cad"
    Course = before_orders.get_model("courses", "Course")
    Enrollment = before_orders.get_model("courses", "Enrollment")
    PaymentReview = before_orders.get_model("courses", "PaymentReview")
    course = Course.objects.create(
        title="T", slug="t", description="d", price=Decimal("49.99")
    )
    other_course = Course.objects.create(
        title="U", slug="u", description="d", price=Decimal("10.00")
    )
    paid_at = timezone.now() - datetime.timedelta(days=3)

    def enrollment(user: str, **fields):
        return Enrollment.objects.create(
            course=fields.pop("course", course),
            clerk_user_id=user,
            price_paid=fields.pop("price_paid", Decimal("49.99")),
            **fields,
        )

    paid = enrollment(
        "user_paid",
        status="paid",
        is_paid=True,
        paid_at=paid_at,
        stripe_session_id="cs_paid",
        stripe_payment_intent_id="pi_paid",
    )
    refunded = enrollment(
        "user_refunded",
        status="refunded",
        paid_at=paid_at,
        refunded_at=timezone.now(),
        stripe_payment_intent_id="pi_refunded",
    )
    pending = enrollment("user_pending", stripe_session_id="cs_pending")
    failed = enrollment(
        "user_failed",
        status="failed",
        stripe_session_id="cs_failed",
        stripe_payment_intent_id="pi_failed",
    )
    enrollment("user_free", course=other_course, status="paid", is_paid=True)
    PaymentReview.objects.create(
        kind="duplicate",
        status="refunded",
        enrollment=paid,
        stripe_payment_intent_id="pi_second",
        stripe_session_id="cs_second",
        amount=Decimal("49.99"),
        currency="cad",
        reason="second payment",
    )

    _migrate(AFTER)

    orders = {
        (o.stripe_checkout_session_id, o.stripe_payment_intent_id): o
        for o in Order.objects.all()
    }
    assert set(orders) == {
        ("cs_paid", "pi_paid"),
        (None, "pi_refunded"),
        ("cs_pending", None),
        ("cs_failed", None),
        (None, "pi_failed"),
        ("cs_second", "pi_second"),
    }
    first = orders[("cs_paid", "pi_paid")]
    assert (first.enrollment_id, first.status) == (paid.pk, "paid")
    assert first.amount_total == first.amount_subtotal == Decimal("49.99")
    assert first.amount_discount == first.amount_refunded == Decimal("0.00")
    assert first.paid_at == paid_at
    assert first.currency == "cad"
    assert first.receipt_url == ""  # never stored: not recoverable here
    back = orders[(None, "pi_refunded")]
    assert (back.enrollment_id, back.status) == (refunded.pk, "refunded")
    assert back.amount_refunded == Decimal("49.99")
    assert orders[("cs_pending", None)].status == "pending"
    assert orders[("cs_pending", None)].enrollment_id == pending.pk
    assert orders[("cs_failed", None)].status == "failed"
    assert orders[(None, "pi_failed")].enrollment_id == failed.pk
    second = orders[("cs_second", "pi_second")]
    assert (second.enrollment_id, second.status) == (paid.pk, "refunded")
