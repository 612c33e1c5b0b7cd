"""The Order admin: read-only list with filters and search, the CSV export, the
refund action (permission, second factor, confirmation), orders on an enrollment."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from courses.authentication import ClerkUser
from courses.models import Enrollment, Order
from courses.services import payments
from courses.tests.factories import CourseFactory, OrderFactory
from courses.tests.staff import plain_static, sign_in_staff

pytestmark = pytest.mark.django_db

ORDER_CHANGELIST = reverse("admin:courses_order_changelist")


@pytest.fixture(autouse=True)
def _static(settings):
    plain_static(settings)


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def refunder(client):
    """Staff who may view orders and refund, past the second factor."""
    staff = User.objects.create_user("refunder", password="pw-1234-x", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_order", "refund_enrollment"])
    )
    sign_in_staff(client, staff)
    return staff


def _paid_order(fake_stripe) -> Order:
    """An order paid through the fake Stripe and recorded by verify_payment."""
    started = payments.checkout_start(
        course=CourseFactory(price=Decimal("49.99")),
        student=ClerkUser(clerk_user_id="user_ada", email="ada@example.com"),
        success_url="http://localhost:3000/success",
        cancel_url="http://localhost:3000/cancel",
    )
    fake_stripe.session_pay(started.session.id)
    payments.checkout_verify(session_id=started.session.id, clerk_user_id="user_ada")
    return Order.objects.get(stripe_checkout_session_id=started.session.id)


def _refund(client, orders, *, confirm: bool):
    data = {
        "action": "refund_through_stripe",
        "_selected_action": [order.pk for order in orders],
    }
    if confirm:
        data["post"] = "yes"
    return client.post(ORDER_CHANGELIST, data, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_list_filters_and_finds_orders_by_stripe_id_or_email(admin_client):
    wanted = OrderFactory(enrollment__student_email="ada@example.com")
    other = OrderFactory(status=Order.Status.PENDING, paid_at=None)

    by_session = admin_client.get(
        ORDER_CHANGELIST, {"q": wanted.stripe_checkout_session_id}
    )
    by_charge = admin_client.get(ORDER_CHANGELIST, {"q": wanted.stripe_charge_id})
    by_email = admin_client.get(ORDER_CHANGELIST, {"q": "ada@example"})
    pending = admin_client.get(ORDER_CHANGELIST, {"status__exact": "pending"})

    for response in (by_session, by_charge, by_email):
        assert list(response.context["cl"].result_list) == [wanted]
    assert list(pending.context["cl"].result_list) == [other]


def test_the_list_costs_the_same_queries_for_two_and_twenty_orders(
    admin_client, django_assert_max_num_queries
):
    for _ in range(2):
        OrderFactory()
    admin_client.get(ORDER_CHANGELIST)  # warm the session and permissions
    with django_assert_max_num_queries(12) as few:
        admin_client.get(ORDER_CHANGELIST)
    for _ in range(18):
        OrderFactory()

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(ORDER_CHANGELIST)

    assert response.context["cl"].result_count == 20


def test_orders_cannot_be_added_changed_or_deleted(admin_client):
    order = OrderFactory()

    add = admin_client.get(reverse("admin:courses_order_add"))
    change = admin_client.post(
        reverse("admin:courses_order_change", args=[order.pk]),
        {"amount_total": "0.01"},
    )
    delete = admin_client.post(
        reverse("admin:courses_order_delete", args=[order.pk]), {"post": "yes"}
    )

    order.refresh_from_db()
    assert add.status_code == delete.status_code == change.status_code == 403
    assert order.amount_total == order.enrollment.price_paid


def test_an_enrollment_page_shows_its_orders(admin_client):
    order = OrderFactory(promotion_code="SPRING20")

    response = admin_client.get(
        reverse("admin:courses_enrollment_change", args=[order.enrollment_id])
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert order.stripe_checkout_session_id in html
    assert "SPRING20" in html
    assert order.receipt_url in html


def test_the_csv_export_lists_the_orders_with_formulas_neutralised(admin_client):
    OrderFactory(
        enrollment__student_email="=cmd@example.com",
        enrollment__course__title="+SUM(A1)",
        promotion_code="@CODE",
        amount_total=Decimal("40.00"),
    )

    response = admin_client.post(
        ORDER_CHANGELIST,
        {
            "action": "export_as_csv",
            "_selected_action": list(Order.objects.values_list("pk", flat=True)),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "Promotion code" in header
    assert row[0] == "'=cmd@example.com"
    assert row[1] == "'+SUM(A1)"
    assert "'@CODE" in row
    assert "40.00" in row


def test_refunding_an_order_asks_first_then_refunds_and_logs_it(
    client, refunder, fake_stripe
):
    order = _paid_order(fake_stripe)
    pending = OrderFactory(status=Order.Status.PENDING, paid_at=None)

    confirmation = _refund(client, [order, pending], confirm=False)
    asked = Order.objects.get(pk=order.pk).status
    done = _refund(client, [order, pending], confirm=True)

    html = confirmation.content.decode()
    order.refresh_from_db()
    assert "refund-refundable" in html
    assert "Not paid (Pending): there is nothing to refund." in html
    assert asked == Order.Status.PAID
    assert order.status == Order.Status.REFUNDED
    assert order.enrollment.status == Enrollment.Status.REFUNDED
    assert len(fake_stripe.refunds) == 1
    assert any("refunded through Stripe" in m for m in _messages(done))
    assert LogEntry.objects.get().object_id == str(order.pk)


def test_refunding_an_order_needs_the_refund_permission(client, fake_stripe):
    staff = User.objects.create_user("viewer", password="pw-1234-x", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_order"))
    sign_in_staff(client, staff)
    order = _paid_order(fake_stripe)

    page = client.get(ORDER_CHANGELIST)
    _refund(client, [order], confirm=True)

    assert b'value="refund_through_stripe"' not in page.content
    assert b'value="export_as_csv"' in page.content
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert fake_stripe.refunds == []


def test_refunding_an_order_is_refused_without_the_second_factor(
    refunder, fake_stripe, settings
):
    """Were the admin's gate missing, the action still refuses a session that
    has not passed the second factor."""
    settings.MIDDLEWARE = [
        name
        for name in settings.MIDDLEWARE
        if name != "courses.middleware.AdminSecondFactorMiddleware"
    ]
    password_only = Client(HTTP_ACCEPT_LANGUAGE="en")
    password_only.force_login(refunder)
    order = _paid_order(fake_stripe)

    response = _refund(password_only, [order], confirm=True)

    assert any(m.startswith("Refused: this action needs") for m in _messages(response))
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert fake_stripe.refunds == []


def test_a_stripe_error_is_reported_and_changes_nothing(client, refunder, fake_stripe):
    order = _paid_order(fake_stripe)
    fake_stripe.fail_with(500)

    response = _refund(client, [order], confirm=True)

    assert any("Stripe could not be reached" in m for m in _messages(response))
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert not LogEntry.objects.exists()
