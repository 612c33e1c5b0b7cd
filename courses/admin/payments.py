"""Staff admin for enrollments: their payment status, refunds and exports.

The actions that touch payment records go through the services, which lock
the rows, and each change they make leaves an admin log entry; with
ADMIN_REQUIRE_2FA they are refused to a session that has not passed the
second factor. Refunds go to
Stripe only after a confirmation page, and only for staff with the
refund_enrollment permission. Payments kept for review have their own page
(courses/admin/reviews.py).
"""

from collections.abc import Callable
from decimal import Decimal
from itertools import chain

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat, Trim
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from courses import stripe_gateway
from courses.admin.orders import OrderInline
from courses.admin.reviews import has_refund_permission
from courses.admin.staff_access import requires_second_factor
from courses.models import Enrollment, Student
from courses.services.payments import NotRefundable, enrollment_refund
from courses.services.payments.staff import (
    StaffChangeResult,
    enrollment_export_csv,
    enrollment_mark_paid_by_staff,
    enrollment_mark_unpaid_by_staff,
)

_STATUS_STYLES = {
    Enrollment.Status.PAID: ("#15803d", "✓"),
    Enrollment.Status.PENDING: ("#b45309", "…"),
    Enrollment.Status.FAILED: ("#b91c1c", "✗"),
    Enrollment.Status.EXPIRED: ("#6b7280", "✗"),
    Enrollment.Status.REFUNDED: ("#6b7280", "↩"),
    Enrollment.Status.DISPUTED: ("#b91c1c", "⚠"),
}


def _status_html(enrollment: Enrollment) -> SafeString:
    colour, symbol = _STATUS_STYLES[enrollment.status]
    return format_html(
        '<span class="enrollment-status enrollment-status-{}" '
        'style="color: {}; font-weight: bold; white-space: nowrap;">{} {}</span>',
        enrollment.status,
        colour,
        symbol,
        enrollment.get_status_display(),
    )


def _money(amount) -> str:
    return formats.number_format(amount, decimal_pos=2, use_l10n=True)


def _money_with_currency(amount) -> str:
    return f"{_money(amount)}\u00a0{settings.STRIPE_CURRENCY.upper()}"


def _student(enrollment: Enrollment) -> str:
    return (
        enrollment.student_name or enrollment.student_email or enrollment.clerk_user_id
    )


def _enrollment_label(enrollment: Enrollment) -> str:
    return _("Enrollment %(id)s (%(student)s, %(course)s)") % {
        "id": enrollment.pk,
        "student": _student(enrollment),
        "course": enrollment.course.title,
    }


def _verbose_name(field_name: str) -> str:
    return capfirst(Enrollment._meta.get_field(field_name).verbose_name)


def _refund_skip_reason(enrollment: Enrollment) -> str | None:
    """Why the refund action leaves this enrollment alone; None if it can refund it.

    The same checks as enrollment_refund, which still has the last word: this
    lets the confirmation page say beforehand which rows will be skipped.
    """
    if enrollment.status == Enrollment.Status.REFUNDED:
        return _("Already refunded.")
    if enrollment.status == Enrollment.Status.DISPUTED:
        return _("Disputed: the bank decides.")
    if enrollment.status != Enrollment.Status.PAID:
        return _("Not paid (%(status)s): there is nothing to refund.") % {
            "status": enrollment.get_status_display()
        }
    if not enrollment.stripe_payment_intent_id:
        return _("Paid without a Stripe payment (free, or marked paid by hand).")
    return None


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "course",
        "student_display",
        "student_email",
        "payment_status_display",
        "price_paid",
        "enrolled_at",
    ]
    list_filter = ["status", "enrolled_at", "paid_at", "course"]
    # Stripe and Clerk ids are pasted whole: exact matches use their indexes.
    search_fields = [
        "student_email",
        "student_name",
        "=clerk_user_id",
        "=stripe_payment_intent_id",
        "=stripe_session_id",
    ]
    list_select_related = ["course"]
    autocomplete_fields = ["course"]
    inlines = [OrderInline]
    fieldsets = (
        (_("Enrollment"), {"fields": ("course", "clerk_user_id")}),
        (
            _("Student"),
            {"fields": ("student_link", "student_email", "student_name")},
        ),
        (
            _("Payment"),
            {
                "fields": (
                    "status",
                    "is_paid",
                    "price_paid",
                    "stripe_payment_intent_id",
                    "stripe_customer_id",
                    "stripe_session_id",
                )
            },
        ),
        (
            _("Dates"),
            {
                "fields": (
                    "enrolled_at",
                    "paid_at",
                    "refunded_at",
                    "completed_at",
                    "updated_at",
                ),
                "classes": ("collapse",),
            },
        ),
    )
    actions = [
        "mark_as_paid",
        "mark_as_unpaid",
        "refund_through_stripe",
        "export_as_csv",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Enrollment]:
        # The student's current name, from the Student of the same Clerk id: a
        # subquery in the page's own query (an enrollment names its student by
        # Clerk id, and may exist before the Student does).
        student = Student.objects.filter(clerk_user_id=OuterRef("clerk_user_id"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                student_full_name=Subquery(
                    student.annotate(
                        full_name=Trim(Concat("first_name", Value(" "), "last_name"))
                    ).values("full_name")[:1]
                ),
                student_deleted_at=Subquery(student.values("deleted_at")[:1]),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Enrollment | None = None):
        # Status and is_paid change only through the actions (locked, logged,
        # consistent); Stripe ids and dates are written by the payment flow.
        readonly = [
            "student_link",
            "status",
            "is_paid",
            "stripe_payment_intent_id",
            "stripe_customer_id",
            "stripe_session_id",
            "enrolled_at",
            "paid_at",
            "refunded_at",
            "completed_at",
            "updated_at",
        ]
        if obj is not None:
            readonly += ["course", "clerk_user_id"]
        return readonly

    @admin.display(description=_("Status"), ordering="status")
    def payment_status_display(self, obj: Enrollment) -> SafeString:
        return _status_html(obj)

    @admin.display(description=_("Student"), ordering="student_full_name")
    def student_display(self, obj: Enrollment) -> SafeString:
        """The Student's name as Clerk last sent it; the name at enrollment
        time while no Student exists; a deleted account says so."""
        if getattr(obj, "student_deleted_at", None) is not None:
            return format_html(
                '<span class="student-deleted" style="color: #6b7280;">{}</span>',
                _("Deleted account"),
            )
        name = getattr(obj, "student_full_name", None) or _student(obj)
        return format_html("{}", name)

    @admin.display(description=_("Student"))
    def student_link(self, obj: Enrollment) -> SafeString | str:
        student = Student.objects.filter(clerk_user_id=obj.clerk_user_id).first()
        if student is None:
            return _("No student record yet (Clerk has not told us about them).")
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:courses_student_change", args=[student.pk]),
            str(student),
        )

    @admin.action(description=_("Mark as paid"), permissions=["change"])
    @requires_second_factor
    def mark_as_paid(
        self, request: HttpRequest, queryset: QuerySet[Enrollment]
    ) -> None:
        result = enrollment_mark_paid_by_staff(
            enrollment_ids=list(queryset.values_list("pk", flat=True)),
            user=request.user,
        )
        self._report(
            request,
            result,
            changed=lambda n: ngettext(
                "%(count)d enrollment marked as paid.",
                "%(count)d enrollments marked as paid.",
                n,
            ),
            skipped=lambda n: ngettext(
                "%(count)d enrollment left unchanged: already paid or refunded.",
                "%(count)d enrollments left unchanged: already paid or refunded.",
                n,
            ),
        )

    @admin.action(description=_("Mark as unpaid"), permissions=["change"])
    @requires_second_factor
    def mark_as_unpaid(
        self, request: HttpRequest, queryset: QuerySet[Enrollment]
    ) -> None:
        result = enrollment_mark_unpaid_by_staff(
            enrollment_ids=list(queryset.values_list("pk", flat=True)),
            user=request.user,
        )
        self._report(
            request,
            result,
            changed=lambda n: ngettext(
                "%(count)d enrollment marked as unpaid.",
                "%(count)d enrollments marked as unpaid.",
                n,
            ),
            skipped=lambda n: ngettext(
                "%(count)d enrollment left unchanged: not paid.",
                "%(count)d enrollments left unchanged: not paid.",
                n,
            ),
        )

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return has_refund_permission(request)

    @admin.action(description=_("Refund through Stripe"), permissions=["refund"])
    @requires_second_factor
    def refund_through_stripe(
        self, request: HttpRequest, queryset: QuerySet[Enrollment]
    ) -> TemplateResponse | None:
        """Behind a confirmation page, like delete_selected: money leaves for good."""
        enrollments = list(queryset.select_related("course").order_by("pk"))
        if not request.POST.get("post"):
            return self._refund_confirmation(request, enrollments)
        for enrollment in enrollments:
            self._refund_one(request, enrollment)
        return None

    def _refund_confirmation(
        self, request: HttpRequest, enrollments: list[Enrollment]
    ) -> TemplateResponse:
        rows = [
            {
                "enrollment": enrollment,
                "student": _student(enrollment),
                "amount": _money_with_currency(enrollment.price_paid),
                "reason": _refund_skip_reason(enrollment),
            }
            for enrollment in enrollments
        ]
        refundable = [row for row in rows if row["reason"] is None]
        total = sum((row["enrollment"].price_paid for row in refundable), Decimal(0))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund through Stripe"),
            # The model's own labels, already in the catalogs.
            "headers": {
                name: _verbose_name(name)
                for name in ("student_name", "student_email", "course", "price_paid")
            },
            "opts": self.model._meta,
            "media": self.media,
            "queryset": enrollments,
            "refundable": refundable,
            "skipped": [row for row in rows if row["reason"] is not None],
            "total": _money_with_currency(total),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/courses/enrollment/refund_confirmation.html", context
        )

    def _refund_one(self, request: HttpRequest, enrollment: Enrollment) -> None:
        label = _enrollment_label(enrollment)
        reason = _refund_skip_reason(enrollment)
        if reason is not None:
            self.message_user(
                request,
                _("%(enrollment)s skipped: %(reason)s")
                % {"enrollment": label, "reason": reason},
                messages.WARNING,
            )
            return
        # enrollment_refund makes the Stripe call outside any lock and then
        # locks the row itself; an outer transaction would hold the row (and a
        # connection) for the whole network call.
        try:
            refunded = enrollment_refund(enrollment_id=enrollment.pk)
        except Enrollment.DoesNotExist:
            error = _("it was deleted meanwhile.")
        except NotRefundable as exc:
            error = str(exc.detail)
        except stripe_gateway.PaymentsNotConfigured:
            error = _("payments are not configured (STRIPE_SECRET_KEY is empty).")
        except stripe_gateway.PaymentObjectNotFound:
            error = _("Stripe does not know its payment.")
        except stripe_gateway.PaymentProviderError:
            # Details are in the log; trying again reuses the idempotency key,
            # so a refund Stripe did make is never made twice.
            error = _(
                "Stripe could not be reached or answered with an error. "
                "Try again in a few minutes."
            )
        else:
            self._refund_report(request, label, refunded)
            return
        self.message_user(
            request,
            _("%(enrollment)s not refunded, nothing was changed: %(error)s")
            % {"enrollment": label, "error": error},
            messages.ERROR,
        )

    def _refund_report(
        self, request: HttpRequest, label: str, enrollment: Enrollment
    ) -> None:
        if enrollment.status != Enrollment.Status.REFUNDED:
            # Stripe refunded the payment, but the row was changed by hand
            # meanwhile (marked unpaid): the service left it alone.
            self.message_user(
                request,
                _(
                    "%(enrollment)s: Stripe refunded the payment, but the "
                    "enrollment is now %(status)s. Check it."
                )
                % {"enrollment": label, "status": enrollment.get_status_display()},
                messages.WARNING,
            )
            return
        # Stored, not displayed through the catalogs, like the other staff
        # actions' entries.
        self.log_change(
            request,
            enrollment,
            "Status changed from paid to refunded by a staff action: "
            "refunded through Stripe.",
        )
        self.message_user(
            request,
            _("%(enrollment)s: %(amount)s refunded through Stripe.")
            % {
                "enrollment": label,
                "amount": _money_with_currency(enrollment.price_paid),
            },
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Export selected enrollments as CSV"), permissions=["view"]
    )
    def export_as_csv(
        self, request: HttpRequest, queryset: QuerySet[Enrollment]
    ) -> StreamingHttpResponse:
        # The byte order mark makes spreadsheet programs read the file as UTF-8
        # (accented names); rows are streamed, so a large selection is fine.
        lines = chain(["\ufeff"], enrollment_export_csv(enrollments=queryset))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = (
            f'attachment; filename="enrollments-{stamp}.csv"'
        )
        return response

    def _report(
        self,
        request: HttpRequest,
        result: StaffChangeResult,
        *,
        changed: Callable[[int], str],
        skipped: Callable[[int], str],
    ) -> None:
        if result.changed:
            count = len(result.changed)
            self.message_user(
                request, changed(count) % {"count": count}, messages.SUCCESS
            )
        if result.skipped:
            count = len(result.skipped)
            self.message_user(
                request, skipped(count) % {"count": count}, messages.WARNING
            )
