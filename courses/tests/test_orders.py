"""Orders, promotion codes, invoices, refunds and disputes, over real HTTP to the
fake Stripe and through the signed webhook, in the orders Stripe may send."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Enrollment, Order, PaymentReview
from courses.services import payments
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

URL = "/api/webhooks/stripe/"


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def _student(clerk_user_id: str = "user_1") -> ClerkUser:
    return ClerkUser(
        clerk_user_id=clerk_user_id,
        email=f"{clerk_user_id}@example.com",
        first_name="Ada",
        last_name="Lovelace",
    )


def _checkout(course, clerk_user_id: str = "user_1"):
    return payments.checkout_start(
        course=course,
        student=_student(clerk_user_id),
        success_url="http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://localhost:3000/cancel",
    )


def _send(client, fake_stripe, event_type: str, data_object: dict):
    delivery = fake_stripe.webhook_delivery(event_type, data_object)
    response = client.post(URL, data=delivery.payload, **delivery.headers)
    assert response.status_code == 200, response.content
    return response.json()["detail"]


def _paid(client, fake_stripe, course=None, **pay) -> tuple[Enrollment, dict]:
    """A checkout paid, told by checkout.session.completed then charge.succeeded
    (its receipt), as Stripe sends them."""
    started = _checkout(course or CourseFactory(price=Decimal("49.99")))
    session = fake_stripe.session_pay(started.session.id, **pay)
    _send(client, fake_stripe, "checkout.session.completed", session)
    if session["payment_intent"]:
        charge = fake_stripe.charge_of(session["payment_intent"])
        _send(client, fake_stripe, "charge.succeeded", charge)
    return Enrollment.objects.get(pk=started.enrollment.pk), session


# --- The order of a payment -----------------------------------------------------------


def test_a_checkout_writes_a_pending_order_before_any_payment(fake_stripe):
    started = _checkout(CourseFactory(price=Decimal("49.99")))

    order = Order.objects.get()
    assert order.enrollment == started.enrollment
    assert order.status == Order.Status.PENDING
    assert order.stripe_checkout_session_id == started.session.id
    assert order.stripe_payment_intent_id is None
    assert (order.amount_subtotal, order.amount_total) == (
        Decimal("49.99"),
        Decimal("49.99"),
    )
    assert order.currency == "cad"
    assert order.paid_at is None


def test_a_paid_checkout_gives_a_paid_order_with_its_receipt(fake_stripe, client):
    enrollment, session = _paid(client, fake_stripe)

    order = Order.objects.get()
    charge = fake_stripe.charge_of(session["payment_intent"])
    assert enrollment.status == Enrollment.Status.PAID
    assert order.status == Order.Status.PAID
    assert order.stripe_payment_intent_id == session["payment_intent"]
    assert order.stripe_charge_id == charge["id"]
    assert order.receipt_url == charge["receipt_url"]
    assert order.amount_total == Decimal("49.99")
    assert order.amount_discount == Decimal("0.00")
    assert order.amount_refunded == Decimal("0.00")
    assert order.promotion_code == ""
    assert order.paid_at is not None


def test_the_receipt_told_before_the_payment_is_kept_for_it(fake_stripe, client):
    started = _checkout(CourseFactory())
    session = fake_stripe.session_pay(started.session.id)
    charge = fake_stripe.charge_of(session["payment_intent"])

    _send(client, fake_stripe, "charge.succeeded", charge)
    _send(client, fake_stripe, "checkout.session.completed", session)

    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert order.receipt_url == charge["receipt_url"]
    assert order.stripe_charge_id == charge["id"]


def test_the_webhook_records_a_payment_without_asking_stripe(fake_stripe, client):
    started = _checkout(CourseFactory())
    session = fake_stripe.session_pay(started.session.id)
    asked_before = len(fake_stripe.requests)

    _send(client, fake_stripe, "checkout.session.completed", session)

    assert fake_stripe.requests[asked_before:] == []
    assert Order.objects.get().status == Order.Status.PAID


def test_verify_payment_records_the_receipt_at_once(fake_stripe):
    started = _checkout(CourseFactory())
    session = fake_stripe.session_pay(started.session.id)

    payments.checkout_verify(session_id=started.session.id, clerk_user_id="user_1")

    charge = fake_stripe.charge_of(session["payment_intent"])
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert order.receipt_url == charge["receipt_url"]
    assert len(fake_stripe.requests_to(f"/v1/checkout/sessions/{session['id']}")) == 1


def test_the_same_payment_told_again_changes_nothing(fake_stripe, client):
    enrollment, session = _paid(client, fake_stripe)
    order = Order.objects.get()

    _send(client, fake_stripe, "checkout.session.completed", session)
    payments.checkout_fulfill(
        session=stripe_gateway.checkout_session_get(session["id"], with_payment=True)
    )

    again = Order.objects.get()
    assert (again.paid_at, again.updated_at) == (order.paid_at, order.updated_at)
    assert Enrollment.objects.get().paid_at == enrollment.paid_at


def test_a_payment_intent_purchase_has_its_order_and_receipt(fake_stripe, client):
    started = payments.payment_intent_start(
        course=CourseFactory(price=Decimal("99.99")), student=_student()
    )
    pending = Order.objects.get()
    intent = fake_stripe.payment_intent_succeed(started.payment_intent.id)

    _send(client, fake_stripe, "payment_intent.succeeded", intent)
    _send(client, fake_stripe, "charge.succeeded", fake_stripe.charge_of(intent["id"]))

    order = Order.objects.get()
    assert pending.status == Order.Status.PENDING
    assert pending.stripe_payment_intent_id == started.payment_intent.id
    assert order.status == Order.Status.PAID
    assert order.amount_total == Decimal("99.99")
    assert order.receipt_url == fake_stripe.charge_of(intent["id"])["receipt_url"]
    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def test_an_expired_session_expires_its_order(fake_stripe, client):
    started = _checkout(CourseFactory())
    expired = fake_stripe.session_expire(started.session.id)

    _send(client, fake_stripe, "checkout.session.expired", expired)

    assert Order.objects.get().status == Order.Status.EXPIRED


def test_a_failed_payment_fails_its_order(fake_stripe, client):
    started = payments.payment_intent_start(course=CourseFactory(), student=_student())
    intent = fake_stripe.payment_intent_fail(started.payment_intent.id)

    _send(client, fake_stripe, "payment_intent.payment_failed", intent)

    assert Order.objects.get().status == Order.Status.FAILED


def test_a_new_session_after_another_url_expires_the_old_order(fake_stripe):
    course = CourseFactory()
    first = _checkout(course)

    payments.checkout_start(
        course=course,
        student=_student(),
        success_url="http://localhost:3000/other",
        cancel_url="http://localhost:3000/cancel",
    )

    old = Order.objects.get(stripe_checkout_session_id=first.session.id)
    assert old.status == Order.Status.EXPIRED
    assert Order.objects.filter(status=Order.Status.PENDING).count() == 1


# --- Promotion codes and invoices -----------------------------------------------------


def test_sessions_accept_promotion_codes_unless_turned_off(fake_stripe, settings):
    allowed = _checkout(CourseFactory())
    settings.STRIPE_ALLOW_PROMOTION_CODES = False
    refused = _checkout(CourseFactory())

    assert fake_stripe.session(allowed.session.id)["allow_promotion_codes"] is True
    assert fake_stripe.session(refused.session.id)["allow_promotion_codes"] is False


def test_a_promotion_code_is_recorded_and_price_paid_is_what_was_charged(
    fake_stripe, client
):
    code = fake_stripe.promotion_code_add("SPRING20", percent_off=20)

    enrollment, _session = _paid(
        client,
        fake_stripe,
        CourseFactory(price=Decimal("50.00")),
        promotion_code=code["id"],
    )

    order = Order.objects.get()
    assert order.amount_subtotal == Decimal("50.00")
    assert order.amount_discount == Decimal("10.00")
    assert order.amount_total == Decimal("40.00")
    assert order.promotion_code == "SPRING20"
    assert enrollment.price_paid == Decimal("40.00")
    assert enrollment.status == Enrollment.Status.PAID


def test_a_promotion_code_the_event_names_by_id_is_asked_for(fake_stripe, client):
    code = fake_stripe.promotion_code_add("TENOFF", amount_off=1000)

    _paid(client, fake_stripe, promotion_code=code["id"])

    assert Order.objects.get().promotion_code == "TENOFF"
    assert Order.objects.get().amount_total == Decimal("39.99")
    assert fake_stripe.requests_to(f"/v1/promotion_codes/{code['id']}", "GET")


def test_verify_payment_reads_the_promotion_code_with_the_session(fake_stripe):
    code = fake_stripe.promotion_code_add("TENOFF", amount_off=1000)
    started = _checkout(CourseFactory())
    fake_stripe.session_pay(started.session.id, promotion_code=code["id"])

    payments.checkout_verify(session_id=started.session.id, clerk_user_id="user_1")

    assert Order.objects.get().promotion_code == "TENOFF"
    assert fake_stripe.requests_to(f"/v1/promotion_codes/{code['id']}") == []


def test_a_hundred_percent_code_enrols_like_a_paid_session(fake_stripe, client):
    code = fake_stripe.promotion_code_add("FREEBIE", percent_off=100)

    enrollment, session = _paid(client, fake_stripe, promotion_code=code["id"])

    order = Order.objects.get()
    assert session["payment_status"] == "no_payment_required"
    assert session["payment_intent"] is None
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("0.00")
    assert order.status == Order.Status.PAID
    assert order.amount_total == Decimal("0.00")
    assert order.amount_discount == Decimal("49.99")
    assert order.promotion_code == "FREEBIE"
    assert order.receipt_url == ""


def test_with_invoices_on_the_order_keeps_the_invoice_page(
    fake_stripe, client, settings
):
    settings.STRIPE_INVOICE_CREATION = True

    _enrollment, session = _paid(client, fake_stripe)

    sent = fake_stripe.requests_to("/v1/checkout/sessions", "POST")[0].params
    invoice = fake_stripe.invoice(fake_stripe.session(session["id"])["invoice"])
    assert sent["invoice_creation"] == {"enabled": "true"}
    assert Order.objects.get().hosted_invoice_url == invoice["hosted_invoice_url"]


def test_without_invoices_no_invoice_is_asked_for(fake_stripe, client):
    _paid(client, fake_stripe)

    sent = fake_stripe.requests_to("/v1/checkout/sessions", "POST")[0].params
    assert "invoice_creation" not in sent
    assert Order.objects.get().hosted_invoice_url == ""


# --- Refunds, in any order ------------------------------------------------------------


def test_a_partial_refund_keeps_access_and_a_full_one_revokes_it(fake_stripe, client):
    _enrollment, session = _paid(client, fake_stripe)

    partial = fake_stripe.refund(session["payment_intent"], amount=1000)
    _send(client, fake_stripe, "charge.refunded", partial)
    after_partial = (Order.objects.get(), Enrollment.objects.get())
    full = fake_stripe.refund(session["payment_intent"])
    _send(client, fake_stripe, "charge.refunded", full)

    order, enrollment = Order.objects.get(), Enrollment.objects.get()
    assert after_partial[0].status == Order.Status.PARTIALLY_REFUNDED
    assert after_partial[0].amount_refunded == Decimal("10.00")
    assert after_partial[1].status == Enrollment.Status.PAID
    assert order.status == Order.Status.REFUNDED
    assert order.amount_refunded == Decimal("49.99")
    assert enrollment.status == Enrollment.Status.REFUNDED
    assert not enrollment.is_paid


def test_an_older_refund_event_arriving_late_never_lowers_the_refunded_amount(
    fake_stripe, client
):
    _enrollment, session = _paid(client, fake_stripe)
    partial = fake_stripe.refund(session["payment_intent"], amount=1000)
    full = fake_stripe.refund(session["payment_intent"])

    _send(client, fake_stripe, "charge.refunded", full)
    _send(client, fake_stripe, "charge.refunded", partial)

    assert Order.objects.get().status == Order.Status.REFUNDED
    assert Enrollment.objects.get().status == Enrollment.Status.REFUNDED


def test_a_refund_told_before_the_payment_is_applied_with_it(fake_stripe, client):
    started = _checkout(CourseFactory())
    session = fake_stripe.session_pay(started.session.id)
    refunded = fake_stripe.refund(session["payment_intent"])

    _send(client, fake_stripe, "charge.refunded", refunded)
    kept = Order.objects.get()
    _send(client, fake_stripe, "checkout.session.completed", session)

    order, enrollment = Order.objects.get(), Enrollment.objects.get()
    # Kept on the pending order until the payment was recorded.
    assert kept.status == Order.Status.PENDING
    assert kept.amount_refunded == Decimal("49.99")
    assert kept.stripe_payment_intent_id == session["payment_intent"]
    assert order.status == Order.Status.REFUNDED
    assert enrollment.status == Enrollment.Status.REFUNDED
    assert not enrollment.is_paid


def test_a_refund_whose_event_never_came_is_read_with_the_payment(fake_stripe):
    started = _checkout(CourseFactory())
    session = fake_stripe.session_pay(started.session.id)
    fake_stripe.refund(session["payment_intent"], amount=500)

    payments.checkout_verify(session_id=session["id"], clerk_user_id="user_1")

    order = Order.objects.get()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.amount_refunded == Decimal("5.00")
    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def test_a_refund_of_another_product_is_acknowledged_and_ignored(fake_stripe, client):
    other = fake_stripe.checkout_session_add(amount=1000, metadata={})
    session = fake_stripe.session_pay(other["id"])
    refunded = fake_stripe.refund(session["payment_intent"])

    detail = _send(client, fake_stripe, "charge.refunded", refunded)

    assert detail == "processed"
    assert not Order.objects.exists()


def test_staff_refund_of_an_enrollment_refunds_its_order(fake_stripe, client):
    enrollment, _session = _paid(client, fake_stripe)

    payments.enrollment_refund(enrollment_id=enrollment.pk)

    order = Order.objects.get()
    assert order.status == Order.Status.REFUNDED
    assert order.amount_refunded == order.amount_total


def test_a_second_payment_has_its_own_order_refunded_with_access_kept(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    course = CourseFactory()
    _paid(client, fake_stripe, course)
    stray = fake_stripe.checkout_session_add(
        amount=4999,
        metadata={"course_id": str(course.pk), "clerk_user_id": "user_1"},
    )
    second = fake_stripe.session_pay(stray["id"])

    with django_capture_on_commit_callbacks(execute=True):
        _send(client, fake_stripe, "checkout.session.completed", second)

    refunded = Order.objects.get(stripe_checkout_session_id=stray["id"])
    assert refunded.status == Order.Status.REFUNDED
    assert PaymentReview.objects.get().status == PaymentReview.Status.REFUNDED
    assert Enrollment.objects.get().status == Enrollment.Status.PAID
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1


def test_order_refund_of_the_paying_order_revokes_access(fake_stripe, client):
    _paid(client, fake_stripe)
    order = Order.objects.get()

    refunded = payments.order_refund(order_id=order.pk)
    again = payments.order_refund(order_id=order.pk)

    assert refunded.status == again.status == Order.Status.REFUNDED
    assert len(fake_stripe.refunds) == 1
    assert Enrollment.objects.get().status == Enrollment.Status.REFUNDED


def test_order_refund_refuses_an_unpaid_order(fake_stripe):
    _checkout(CourseFactory())

    with pytest.raises(payments.NotRefundable):
        payments.order_refund(order_id=Order.objects.get().pk)

    assert fake_stripe.refunds == []


# --- Disputes -------------------------------------------------------------------------


def test_a_dispute_revokes_access_until_it_is_won(fake_stripe, client):
    _enrollment, session = _paid(client, fake_stripe)
    dispute = fake_stripe.dispute_open(session["payment_intent"])

    _send(client, fake_stripe, "charge.dispute.created", dispute)
    disputed = (Order.objects.get(), Enrollment.objects.get())
    won = fake_stripe.dispute_close(dispute["id"], status="won")
    _send(client, fake_stripe, "charge.dispute.closed", won)
    _send(client, fake_stripe, "charge.dispute.closed", won)

    order, enrollment = Order.objects.get(), Enrollment.objects.get()
    assert disputed[0].status == Order.Status.DISPUTED
    assert disputed[0].stripe_dispute_id == dispute["id"]
    assert disputed[1].status == Enrollment.Status.DISPUTED
    assert not disputed[1].is_paid
    assert order.status == Order.Status.PAID
    assert order.dispute_status == "won"
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.is_paid
    # Access is restored, with the payment's own date.
    assert enrollment.paid_at == disputed[1].paid_at


def test_a_dispute_lost_leaves_access_revoked(fake_stripe, client):
    _enrollment, session = _paid(client, fake_stripe)
    dispute = fake_stripe.dispute_open(session["payment_intent"])
    _send(client, fake_stripe, "charge.dispute.created", dispute)

    lost = fake_stripe.dispute_close(dispute["id"], status="lost")
    _send(client, fake_stripe, "charge.dispute.closed", lost)
    _send(client, fake_stripe, "charge.dispute.closed", lost)

    order, enrollment = Order.objects.get(), Enrollment.objects.get()
    assert order.status == Order.Status.DISPUTED
    assert order.dispute_status == "lost"
    assert enrollment.status == Enrollment.Status.DISPUTED
    assert not enrollment.is_paid


def test_a_dispute_closed_before_its_creation_event_stays_closed(fake_stripe, client):
    _enrollment, session = _paid(client, fake_stripe)
    created = fake_stripe.dispute_open(session["payment_intent"])
    won = fake_stripe.dispute_close(created["id"], status="won")

    _send(client, fake_stripe, "charge.dispute.closed", won)
    _send(client, fake_stripe, "charge.dispute.created", created)

    assert Order.objects.get().dispute_status == "won"
    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def test_a_dispute_whose_event_never_came_is_read_with_the_payment(fake_stripe):
    started = _checkout(CourseFactory())
    session = fake_stripe.session_pay(started.session.id)
    fake_stripe.dispute_open(session["payment_intent"])

    verified = payments.checkout_verify(
        session_id=session["id"], clerk_user_id="user_1"
    )

    assert verified.status == "disputed"
    assert Order.objects.get().status == Order.Status.DISPUTED
    assert Enrollment.objects.get().status == Enrollment.Status.DISPUTED


def test_a_dispute_told_before_the_payment_is_applied_with_it(fake_stripe, client):
    started = _checkout(CourseFactory())
    session = fake_stripe.session_pay(started.session.id)
    dispute = fake_stripe.dispute_open(session["payment_intent"])

    _send(client, fake_stripe, "charge.dispute.created", dispute)
    _send(client, fake_stripe, "checkout.session.completed", session)

    assert Order.objects.get().status == Order.Status.DISPUTED
    assert Enrollment.objects.get().status == Enrollment.Status.DISPUTED


def test_a_disputed_student_cannot_buy_the_course_again(fake_stripe, client):
    enrollment, session = _paid(client, fake_stripe)
    _send(
        client,
        fake_stripe,
        "charge.dispute.created",
        fake_stripe.dispute_open(session["payment_intent"]),
    )

    with pytest.raises(payments.PaymentDisputed):
        _checkout(enrollment.course)

    with pytest.raises(payments.NotRefundable):
        payments.enrollment_refund(enrollment_id=enrollment.pk)


# --- reconcile_payments ---------------------------------------------------------------


def _reconcile() -> str:
    out = StringIO()
    call_command("reconcile_payments", "--since", "1h", stdout=out)
    return out.getvalue()


def _made_long_ago(fake_stripe, session_id: str) -> None:
    """Out of reconcile's window: only its refunds and disputes can be found."""
    fake_stripe.session_update(session_id, created=1_600_000_000)


def test_reconcile_repairs_a_refund_whose_webhook_was_missed(fake_stripe, client):
    _enrollment, session = _paid(client, fake_stripe)
    _made_long_ago(fake_stripe, session["id"])
    charge = fake_stripe.refund(session["payment_intent"])

    first = _reconcile()
    second = _reconcile()

    assert Order.objects.get().status == Order.Status.REFUNDED
    assert Enrollment.objects.get().status == Enrollment.Status.REFUNDED
    assert f"Refund of charge {charge['id']} recorded" in first
    assert "1 refund(s) and 0 dispute(s) recorded." in first
    assert "0 refund(s) and 0 dispute(s) recorded." in second


def test_reconcile_repairs_a_partial_refund_of_a_session_in_its_window(
    fake_stripe, client
):
    _enrollment, session = _paid(client, fake_stripe)
    fake_stripe.refund(session["payment_intent"], amount=999)

    _reconcile()

    order = Order.objects.get()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.amount_refunded == Decimal("9.99")


def test_reconcile_finds_a_missed_dispute_and_a_missed_closing(fake_stripe, client):
    _enrollment, session = _paid(client, fake_stripe)
    _made_long_ago(fake_stripe, session["id"])
    dispute = fake_stripe.dispute_open(session["payment_intent"])

    opened = _reconcile()
    disputed = Enrollment.objects.get().status
    fake_stripe.dispute_close(dispute["id"], status="won")
    # The closing is found by asking about the dispute still open here, even
    # once its creation is out of the window.
    fake_stripe.dispute(dispute["id"])["created"] = 1_600_000_000
    closed = _reconcile()

    assert f"Dispute {dispute['id']} recorded" in opened
    assert disputed == Enrollment.Status.DISPUTED
    assert f"Dispute {dispute['id']} recorded" in closed
    assert Enrollment.objects.get().status == Enrollment.Status.PAID
    assert fake_stripe.requests_to(f"/v1/disputes/{dispute['id']}", "GET")
