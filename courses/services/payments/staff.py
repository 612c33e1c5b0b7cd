"""Staff use cases on enrollments and orders: logged payment corrections, the CSV
exports, and closing the review of refused payments.

The corrections lock the rows they change, go through the model's mark_as_*
methods (so `status` and `is_paid` never disagree) and leave one admin log
entry per changed enrollment, saying who did it and when.
"""

import csv
import datetime
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst

from courses.models import Enrollment, Order, PaymentReview

# A cell starting with one of these is run as a formula by spreadsheet programs
# (CSV injection); tab and carriage return hide such a prefix. A spreadsheet
# that splits on ";" (French Excel), "," or line breaks regardless of quotes
# sees a new cell after each of them, so a trigger there (after optional
# spaces) is one too.
_FORMULA_TRIGGER = re.compile(r"(^|[;,\r\n])( *)(?=[=+\-@\t\r])")

CSV_FIELDS = (
    "student_name",
    "student_email",
    "course",
    "status",
    "price_paid",
    "enrolled_at",
    "paid_at",
    "refunded_at",
)

# Marking a refunded enrollment paid would contradict the refund Stripe made.
_MARKABLE_AS_PAID = frozenset(
    {Enrollment.Status.PENDING, Enrollment.Status.FAILED, Enrollment.Status.EXPIRED}
)


@dataclass(frozen=True)
class StaffChangeResult:
    changed: list[Enrollment] = field(default_factory=list)
    skipped: list[Enrollment] = field(default_factory=list)


def enrollment_mark_paid_by_staff(
    *, enrollment_ids: Collection[int], user: AbstractBaseUser
) -> StaffChangeResult:
    """Mark pending, failed or expired enrollments paid; logged per enrollment.

    Paid and refunded enrollments are left as they are (reported as skipped).
    """
    return _staff_status_change(
        enrollment_ids=enrollment_ids,
        user=user,
        is_eligible=lambda enrollment: enrollment.status in _MARKABLE_AS_PAID,
        change=lambda enrollment: enrollment.mark_as_paid(),
        new_status=Enrollment.Status.PAID,
    )


def enrollment_mark_unpaid_by_staff(
    *, enrollment_ids: Collection[int], user: AbstractBaseUser
) -> StaffChangeResult:
    """Put paid enrollments back to pending; logged per enrollment."""
    return _staff_status_change(
        enrollment_ids=enrollment_ids,
        user=user,
        is_eligible=lambda enrollment: enrollment.status == Enrollment.Status.PAID,
        change=lambda enrollment: enrollment.mark_as_unpaid(),
        new_status=Enrollment.Status.PENDING,
    )


def _staff_status_change(
    *,
    enrollment_ids: Collection[int],
    user: AbstractBaseUser,
    is_eligible: Callable[[Enrollment], bool],
    change: Callable[[Enrollment], bool],
    new_status: str,
) -> StaffChangeResult:
    result = StaffChangeResult()
    by_previous_status: dict[str, list[Enrollment]] = defaultdict(list)
    with transaction.atomic():
        # Locked in primary-key order, so two staff members acting on
        # overlapping selections wait for each other instead of deadlocking;
        # a webhook fulfilling one of these rows waits too.
        locked = (
            Enrollment.objects.select_for_update(of=("self",))
            .select_related("course")
            .filter(pk__in=list(enrollment_ids))
            .order_by("pk")
        )
        for enrollment in locked:
            previous = enrollment.status
            if is_eligible(enrollment) and change(enrollment):
                result.changed.append(enrollment)
                by_previous_status[previous].append(enrollment)
            else:
                result.skipped.append(enrollment)
        for previous, enrollments in by_previous_status.items():
            # Stored, not displayed through the catalogs: the audit trail keeps
            # the raw status values.
            LogEntry.objects.log_actions(
                user_id=user.pk,
                queryset=enrollments,
                action_flag=CHANGE,
                change_message=(
                    f"Status changed from {previous} to {new_status} by a staff action."
                ),
            )
    return result


def payment_review_mark_reviewed(
    *, review_ids: Collection[int], user: AbstractBaseUser
) -> int:
    """Close refused payments that staff have dealt with; logged per row.

    Only rows waiting for review change; automatic refunds keep their status.
    Returns how many changed.
    """
    with transaction.atomic():
        reviews = list(
            PaymentReview.objects.select_for_update()
            .filter(pk__in=list(review_ids), status=PaymentReview.Status.TO_REVIEW)
            .order_by("pk")
        )
        for review in reviews:
            review.status = PaymentReview.Status.REVIEWED
            review.save(update_fields=["status", "updated_at"])
        if reviews:
            LogEntry.objects.log_actions(
                user_id=user.pk,
                queryset=reviews,
                action_flag=CHANGE,
                change_message="Marked as reviewed by a staff action.",
            )
    return len(reviews)


class _Echo:
    """A file-like object whose write() hands the CSV line back to the caller."""

    def write(self, value: str) -> str:
        return value


def enrollment_export_csv(*, enrollments: QuerySet[Enrollment]) -> Iterator[str]:
    """Yield the CSV lines (header first) of these enrollments, one per row.

    Every cell is quoted, and text that a spreadsheet would run as a formula
    gets a leading quote (see _csv_text); the rest follows RFC 4180.
    """
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow(
        [
            capfirst(str(Enrollment._meta.get_field(name).verbose_name))
            for name in CSV_FIELDS
        ]
    )
    rows = enrollments.select_related("course").iterator(chunk_size=500)
    for enrollment in rows:
        yield writer.writerow(_csv_row(enrollment))


ORDER_CSV_FIELDS = (
    "id",
    "created_at",
    "paid_at",
    "status",
    "currency",
    "amount_subtotal",
    "amount_discount",
    "amount_total",
    "amount_refunded",
    "promotion_code",
    "stripe_checkout_session_id",
    "stripe_payment_intent_id",
    "stripe_charge_id",
    "dispute_status",
    "receipt_url",
)


def order_export_csv(*, orders: QuerySet[Order]) -> Iterator[str]:
    """Yield the CSV lines (header first) of these orders, with each one's student
    and course; cells are quoted and guarded like the enrollments' export."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow(
        [
            capfirst(str(Enrollment._meta.get_field("student_email").verbose_name)),
            capfirst(str(Enrollment._meta.get_field("course").verbose_name)),
            *(
                capfirst(str(Order._meta.get_field(name).verbose_name))
                for name in ORDER_CSV_FIELDS
            ),
        ]
    )
    rows = orders.select_related("enrollment__course").iterator(chunk_size=500)
    for order in rows:
        yield writer.writerow(_order_csv_row(order))


def _order_csv_row(order: Order) -> Iterable[str]:
    return [
        _csv_text(order.enrollment.student_email),
        _csv_text(order.enrollment.course.title),
        str(order.pk),
        _csv_datetime(order.created_at),
        _csv_datetime(order.paid_at),
        _csv_text(str(order.get_status_display())),
        _csv_text(order.currency.upper()),
        str(order.amount_subtotal),
        str(order.amount_discount),
        str(order.amount_total),
        str(order.amount_refunded),
        _csv_text(order.promotion_code),
        _csv_text(order.stripe_checkout_session_id or ""),
        _csv_text(order.stripe_payment_intent_id or ""),
        _csv_text(order.stripe_charge_id or ""),
        _csv_text(order.dispute_status),
        _csv_text(order.receipt_url),
    ]


def _csv_row(enrollment: Enrollment) -> Iterable[str]:
    return [
        _csv_text(enrollment.student_name),
        _csv_text(enrollment.student_email),
        _csv_text(enrollment.course.title),
        _csv_text(str(enrollment.get_status_display())),
        str(enrollment.price_paid),
        _csv_datetime(enrollment.enrolled_at),
        _csv_datetime(enrollment.paid_at),
        _csv_datetime(enrollment.refunded_at),
    ]


def _csv_text(value: str) -> str:
    """`=1+1` -> `'=1+1`, `Bob;=cmd` -> `Bob;'=cmd`: shown as text, never run."""
    return _FORMULA_TRIGGER.sub(r"\1'\2", value)


def _csv_datetime(value: datetime.datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).isoformat(timespec="seconds")
