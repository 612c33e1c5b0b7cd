"""Staff admin for students: who a Clerk user is, and what they bought.

Read-only: a student is written by Clerk's webhooks, the first sign-in and
`sync_clerk_users`, and erased when the account is deleted in Clerk; staff
change nothing here. A student's page lists their enrollments, each linking
to its own page, where the payment actions are.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from courses.admin.display import enrollment_status_html, money_with_currency
from courses.models import Enrollment, Student

# A student's page lists at most this many enrollments, newest first.
ENROLLMENT_TABLE_LIMIT = 100


class DeletedListFilter(admin.SimpleListFilter):
    title = _("account")
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [("active", _("Active")), ("deleted", _("Deleted in Clerk"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Student]
    ) -> QuerySet[Student]:
        if self.value() == "active":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    list_display = [
        "clerk_user_id",
        "email",
        "first_name",
        "last_name",
        "account_display",
        "created_at",
    ]
    list_filter = [DeletedListFilter, "created_at"]
    # Clerk and Stripe ids are pasted whole: an exact match uses the unique index.
    search_fields = [
        "email",
        "first_name",
        "last_name",
        "=clerk_user_id",
        "=stripe_customer_id",
    ]
    readonly_fields = [
        "clerk_user_id",
        "email",
        "first_name",
        "last_name",
        "image_url",
        "stripe_customer_id",
        "stripe_customer_email",
        "clerk_updated_at",
        "created_at",
        "updated_at",
        "deleted_at",
        "enrollment_list",
    ]
    fieldsets = (
        (
            _("Identity (from Clerk)"),
            {
                "fields": (
                    "clerk_user_id",
                    "email",
                    "first_name",
                    "last_name",
                    "image_url",
                )
            },
        ),
        (
            _("Stripe"),
            {"fields": ("stripe_customer_id", "stripe_customer_email")},
        ),
        (_("Enrollments"), {"fields": ("enrollment_list",)}),
        (
            _("Dates"),
            {
                "fields": (
                    "clerk_updated_at",
                    "created_at",
                    "updated_at",
                    "deleted_at",
                ),
            },
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Shown read-only to staff who may view students.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting happens in Clerk, whose webhook erases the person here and
        # keeps the tombstone that enrollments and payments still name.
        return False

    @admin.display(description=_("Account"), ordering="deleted_at")
    def account_display(self, obj: Student) -> SafeString:
        if obj.deleted_at is None:
            return format_html('<span class="student-account">{}</span>', _("Active"))
        return format_html(
            '<span class="student-account student-account-deleted" '
            'style="color: #6b7280;">{}</span>',
            _("Deleted in Clerk"),
        )

    @admin.display(description=_("Enrollments"))
    def enrollment_list(self, obj: Student) -> SafeString | str:
        # One query: the newest rows plus one, to know whether to link to more.
        enrollments = list(
            Enrollment.objects.filter(clerk_user_id=obj.clerk_user_id)
            .select_related("course")
            .order_by("-enrolled_at", "-id")[: ENROLLMENT_TABLE_LIMIT + 1]
        )
        if not enrollments:
            return _("No enrollments yet.")
        header = format_html(
            "<thead><tr><th>{}</th><th>{}</th>"
            '<th style="text-align: right;">{}</th><th>{}</th><th>{}</th></tr></thead>',
            _("Course"),
            _("Status"),
            _("Price paid"),
            _("Enrolled at"),
            _("Paid at"),
        )
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td>'
            '<td style="text-align: right;">{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:courses_enrollment_change", args=[e.pk]),
                    e.course.title,
                    enrollment_status_html(e),
                    money_with_currency(e.price_paid),
                    _date(e.enrolled_at),
                    _date(e.paid_at),
                )
                for e in enrollments[:ENROLLMENT_TABLE_LIMIT]
            ),
        )
        more = ""
        if len(enrollments) > ENROLLMENT_TABLE_LIMIT:
            all_url = "{}?{}".format(
                reverse("admin:courses_enrollment_changelist"),
                urlencode({"q": obj.clerk_user_id}),
            )
            more = format_html(
                '<p><a href="{}">{}</a></p>',
                all_url,
                _("Only the latest %(count)d are shown: see all enrollments.")
                % {"count": ENROLLMENT_TABLE_LIMIT},
            )
        return format_html(
            '<table class="student-enrollment-list" style="width: 100%;">'
            "{}<tbody>{}</tbody></table>{}",
            header,
            rows,
            more,
        )


def _date(moment) -> str:
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
