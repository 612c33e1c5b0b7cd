"""Payments' reads: a student's own orders, newest first, each with its course in
the same row."""

from django.db import models

from courses.models import Order


def order_list_for_student(*, clerk_user_id: str) -> models.QuerySet[Order]:
    """The student's orders (any status), newest first, with their enrollment and
    course joined in: a page is one query whatever its size."""
    return (
        Order.objects.for_student(clerk_user_id)
        .select_related("enrollment__course")
        .order_by("-created_at", "-id")
    )


def order_get_for_student(*, clerk_user_id: str, pk: int) -> Order:
    """One of the student's orders; raises Order.DoesNotExist otherwise.

    Someone else's order is indistinguishable from a missing one.
    """
    return order_list_for_student(clerk_user_id=clerk_user_id).get(pk=pk)
