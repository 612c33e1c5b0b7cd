"""GET /api/orders/ and /api/orders/{id}/: the caller's own orders, newest first."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from courses.authentication import ClerkUser
from courses.tests.factories import CourseFactory, EnrollmentFactory, OrderFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/orders/"


@pytest.fixture
def api_client(api_client):
    api_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return api_client


@pytest.fixture
def ada_client(api_client):
    api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_ada"))
    return api_client


def _order(clerk_user_id: str = "user_ada", **fields):
    course = fields.pop("course", None) or CourseFactory()
    enrollment = EnrollmentFactory(
        course=course, clerk_user_id=clerk_user_id, paid=True
    )
    return OrderFactory(enrollment=enrollment, **fields)


def test_the_list_holds_the_callers_orders_newest_first(ada_client):
    now = timezone.now()
    older = _order(created_at=now - datetime.timedelta(days=2))
    newer = _order(created_at=now - datetime.timedelta(days=1))
    _order("user_grace")

    response = ada_client.get(LIST_URL)

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 2
    assert [order["id"] for order in body["results"]] == [newer.pk, older.pk]


def test_an_order_shows_its_course_and_amounts_with_two_decimals(ada_client):
    course = CourseFactory(title="Django", slug="django", price=Decimal("50"))
    order = _order(
        course=course,
        amount_subtotal=Decimal("50"),
        amount_discount=Decimal("10"),
        amount_total=Decimal("40"),
        amount_refunded=Decimal("0"),
        promotion_code="SPRING20",
    )

    data = ada_client.get(f"{LIST_URL}{order.pk}/").json()

    assert data["course"] == {"id": course.pk, "title": "Django", "slug": "django"}
    assert data["enrollment_id"] == order.enrollment_id
    assert (
        data["amount_subtotal"],
        data["amount_discount"],
        data["amount_total"],
        data["amount_refunded"],
    ) == ("50.00", "10.00", "40.00", "0.00")
    assert data["status"] == "paid"
    assert data["currency"] == "cad"
    assert data["promotion_code"] == "SPRING20"
    assert data["receipt_url"] == order.receipt_url
    assert data["hosted_invoice_url"] == ""
    assert data["stripe_checkout_session_id"] == order.stripe_checkout_session_id
    assert "stripe_charge_id" not in data


def test_another_students_order_is_a_404_like_a_missing_one(ada_client):
    someone_elses = _order("user_grace")

    theirs = ada_client.get(f"{LIST_URL}{someone_elses.pk}/")
    missing = ada_client.get(f"{LIST_URL}999999/")
    too_big = ada_client.get(f"{LIST_URL}99999999999999999999/")

    assert theirs.status_code == missing.status_code == too_big.status_code == 404
    assert theirs.json() == missing.json() == {"detail": "Order not found."}


def test_orders_need_a_signed_in_caller(api_client):
    order = _order()

    listed = api_client.get(LIST_URL)
    one = api_client.get(f"{LIST_URL}{order.pk}/")

    assert listed.status_code == one.status_code == 401


@pytest.mark.parametrize("count", [1, 15])
def test_a_page_of_orders_costs_the_same_queries_whatever_its_size(
    ada_client, django_assert_num_queries, count
):
    for _ in range(count):
        _order()

    # the count, and the page with its enrollments and courses joined in
    with django_assert_num_queries(2):
        response = ada_client.get(LIST_URL, {"page_size": 100})

    assert len(response.json()["results"]) == count


def test_orders_are_paginated(ada_client):
    for _ in range(3):
        _order()

    first = ada_client.get(LIST_URL, {"page_size": 2}).json()
    bad = ada_client.get(LIST_URL, {"page_size": 0})

    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert first["next"] is not None
    assert bad.status_code == 400
