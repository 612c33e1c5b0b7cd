"""Staff admin for courses: badges, the latest enrollments, sections inline."""

from urllib.parse import urlencode

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from courses.admin.display import enrollment_status_html, money
from courses.admin.learning import SectionInline
from courses.models import Course

# A course page lists at most this many enrollments (newest first) and links
# to the full, paginated enrollment list beyond that.
ENROLLMENT_TABLE_LIMIT = 100

_BADGE_GREY = "#6b7280"
_BADGE_ORANGE = "#b45309"
_BADGE_GREEN = "#15803d"


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "price",
        "is_active",
        "instructor_name",
        "enrollment_count_display",
        "lesson_count_display",
        "created_at",
    ]
    list_filter = ["is_active", "created_at", "instructor_name"]
    search_fields = ["title", "description", "instructor_name"]
    prepopulated_fields = {"slug": ("title",)}
    inlines = [SectionInline]
    # Django 6 makes https the default scheme for typed-in URLs; use it now.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = [
        "created_at",
        "updated_at",
        "enrollment_count_display",
        "enrollment_list",
    ]
    fieldsets = (
        (
            _("Basic information"),
            {"fields": ("title", "slug", "description", "is_active")},
        ),
        (
            _("Price and instructor"),
            {"fields": ("price", "instructor_name", "duration_hours")},
        ),
        (_("Media"), {"fields": ("thumbnail_url",)}),
        (_("Statistics"), {"fields": ("enrollment_count_display", "enrollment_list")}),
        (
            _("Metadata"),
            {"fields": ("created_at", "updated_at"), "classes": ("collapse",)},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Course]:
        # The badge and the lesson count read these annotations: subqueries
        # in the page's own query instead of COUNTs per course shown.
        return (
            super().get_queryset(request).with_enrollment_count().with_lesson_totals()
        )

    def get_fieldsets(self, request: HttpRequest, obj: Course | None = None):
        if obj is None:
            # A course being created has no enrollments and no dates yet.
            return self.fieldsets[:3]
        return self.fieldsets

    @admin.display(description=_("Enrolled"), ordering="paid_enrollment_count")
    def enrollment_count_display(self, obj: Course) -> SafeString:
        count = obj.enrollment_count
        if count == 0:
            colour = _BADGE_GREY
        elif count < 10:
            colour = _BADGE_ORANGE
        else:
            colour = _BADGE_GREEN
        return format_html(
            '<span class="enrollment-badge" title="{}" style="background-color: {}; '
            'color: white; padding: 3px 10px; border-radius: 3px;">{}</span>',
            _("Paid enrollments"),
            colour,
            count,
        )

    @admin.display(description=_("Lessons"), ordering="published_lesson_count")
    def lesson_count_display(self, obj: Course) -> int:
        return obj.lesson_count

    @admin.display(description=_("Enrollments"))
    def enrollment_list(self, obj: Course) -> SafeString | str:
        # One query: the newest rows plus one, to know whether to link to more.
        enrollments = list(
            obj.enrollments.order_by("-enrolled_at", "-id")[
                : ENROLLMENT_TABLE_LIMIT + 1
            ]
        )
        if not enrollments:
            return _("No enrollments yet.")
        # The admin's stylesheet already styles tables (padding, hairlines,
        # dark mode), so the markup carries no inline styles.
        header = format_html(
            "<thead><tr><th>{}</th><th>{}</th><th>{}</th>"
            '<th style="text-align: right;">{}</th><th>{}</th></tr></thead>',
            _("Student"),
            _("Email"),
            _("Status"),
            _("Price paid"),
            _("Enrolled at"),
        )
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td>'
            '<td style="text-align: right;">{}\u00a0$</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:courses_enrollment_change", args=[e.pk]),
                    e.student_name or _("N/A"),
                    e.student_email,
                    enrollment_status_html(e),
                    money(e.price_paid),
                    formats.date_format(
                        timezone.localtime(e.enrolled_at), "SHORT_DATETIME_FORMAT"
                    ),
                )
                for e in enrollments[:ENROLLMENT_TABLE_LIMIT]
            ),
        )
        more = ""
        if len(enrollments) > ENROLLMENT_TABLE_LIMIT:
            all_url = "{}?{}".format(
                reverse("admin:courses_enrollment_changelist"),
                urlencode({"course__id__exact": obj.pk}),
            )
            more = format_html(
                '<p><a href="{}">{}</a></p>',
                all_url,
                _("Only the latest %(count)d are shown: see all enrollments.")
                % {"count": ENROLLMENT_TABLE_LIMIT},
            )
        return format_html(
            '<table class="enrollment-list" style="width: 100%;">'
            "{}<tbody>{}</tbody></table>{}",
            header,
            rows,
            more,
        )
