"""Staff admin (the tutorial's section 10), one module per area.

Every HTML fragment is built with format_html/format_html_join, so names,
emails and titles are escaped; list pages cost a fixed number of queries.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from courses.admin.catalog import CourseAdmin
from courses.admin.learning import LessonAdmin, SectionAdmin
from courses.admin.orders import OrderAdmin
from courses.admin.payments import EnrollmentAdmin
from courses.admin.reviews import PaymentReviewAdmin
from courses.admin.staff_access import (
    AuthenticatorAdmin,
    StaffLockoutAdmin,
    StaffSignInEventAdmin,
)
from courses.admin.students import StudentAdmin

__all__ = [
    "AuthenticatorAdmin",
    "CourseAdmin",
    "EnrollmentAdmin",
    "LessonAdmin",
    "OrderAdmin",
    "PaymentReviewAdmin",
    "SectionAdmin",
    "StaffLockoutAdmin",
    "StaffSignInEventAdmin",
    "StudentAdmin",
]

admin.site.site_header = _("Course Platform administration")
admin.site.site_title = _("Course Platform Admin")
admin.site.index_title = _("Dashboard")
