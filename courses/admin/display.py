"""What several admin pages show the same way: an enrollment's status, an
amount, the student an enrollment names."""

from django.conf import settings
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString

from courses.models import Enrollment

_STATUS_STYLES = {
    Enrollment.Status.PAID: ("#15803d", "✓"),
    Enrollment.Status.PENDING: ("#b45309", "…"),
    Enrollment.Status.FAILED: ("#b91c1c", "✗"),
    Enrollment.Status.EXPIRED: ("#6b7280", "✗"),
    Enrollment.Status.REFUNDED: ("#6b7280", "↩"),
    Enrollment.Status.DISPUTED: ("#b91c1c", "⚠"),
}


def enrollment_status_html(enrollment: Enrollment) -> SafeString:
    colour, symbol = _STATUS_STYLES[enrollment.status]
    return format_html(
        '<span class="enrollment-status enrollment-status-{}" '
        'style="color: {}; font-weight: bold; white-space: nowrap;">{} {}</span>',
        enrollment.status,
        colour,
        symbol,
        enrollment.get_status_display(),
    )


def money(amount) -> str:
    return formats.number_format(amount, decimal_pos=2, use_l10n=True)


def money_with_currency(amount) -> str:
    return f"{money(amount)}\u00a0{settings.STRIPE_CURRENCY.upper()}"


def student_label(enrollment: Enrollment) -> str:
    return (
        enrollment.student_name or enrollment.student_email or enrollment.clerk_user_id
    )
