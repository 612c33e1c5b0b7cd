"""Staff admin for enrollments: their payment status, refunds and exports.

The actions that touch payment records go through the services, which lock
the rows, and each change they make leaves an admin log entry; with
ADMIN_REQUIRE_2FA they are refused to a session that has not passed the
second factor. The refund action (courses/admin/enrollment_refunds.py) goes
to Stripe only after a confirmation page, and only for staff with the
refund_enrollment permission. Payments kept for review have their own page
(courses/admin/reviews.py).
"""

from collections.abc import Callable
from itertools import chain

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat, Trim
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from courses.admin.display import enrollment_status_html, student_label
from courses.admin.enrollment_refunds import EnrollmentRefundActions
from courses.admin.orders import OrderInline
from courses.admin.staff_access import requires_second_factor
from courses.models import Enrollment, Student
from courses.services.payments.staff import (
    StaffChangeResult,
    enrollment_export_csv,
    enrollment_mark_paid_by_staff,
    enrollment_mark_unpaid_by_staff,
)


@admin.register(Enrollment)
class EnrollmentAdmin(EnrollmentRefundActions, admin.ModelAdmin):
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
        return enrollment_status_html(obj)

    @admin.display(description=_("Student"), ordering="student_full_name")
    def student_display(self, obj: Enrollment) -> SafeString:
        """The Student's name as Clerk last sent it; the name at enrollment
        time while no Student exists; a deleted account says so."""
        if getattr(obj, "student_deleted_at", None) is not None:
            return format_html(
                '<span class="student-deleted" style="color: #6b7280;">{}</span>',
                _("Deleted account"),
            )
        name = getattr(obj, "student_full_name", None) or student_label(obj)
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
