"""Staff admin for orders: every payment attempt that reached Stripe, read-only.

Orders are written by the payment flow alone. Staff filter them by status,
currency and date, find one by the student's email or a Stripe id (session,
PaymentIntent or charge), export them as CSV, and refund a paid one through
Stripe: behind a confirmation page, with the refund_enrollment permission and
(with ADMIN_REQUIRE_2FA) a session that passed the second factor, as from the
enrollments. Each enrollment shows its orders inline.
"""

from decimal import Decimal
from itertools import chain

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from courses import stripe_gateway
from courses.admin.reviews import has_refund_permission
from courses.admin.staff_access import requires_second_factor
from courses.models import Order
from courses.services.payments import NotRefundable, order_refund
from courses.services.payments.staff import order_export_csv

_STATUS_COLOURS = {
    Order.Status.PENDING: "#b45309",
    Order.Status.PAID: "#15803d",
    Order.Status.PARTIALLY_REFUNDED: "#15803d",
    Order.Status.REFUNDED: "#6b7280",
    Order.Status.DISPUTED: "#b91c1c",
    Order.Status.FAILED: "#b91c1c",
    Order.Status.EXPIRED: "#6b7280",
}


def _money(amount: Decimal, currency: str) -> str:
    number = formats.number_format(amount, decimal_pos=2, use_l10n=True)
    return f"{number}\u00a0{(currency or settings.STRIPE_CURRENCY).upper()}"


def order_status_html(order: Order) -> SafeString:
    return format_html(
        '<span class="order-status order-status-{}" '
        'style="color: {}; font-weight: bold; white-space: nowrap;">{}</span>',
        order.status,
        _STATUS_COLOURS[order.status],
        order.get_status_display(),
    )


def _refund_skip_reason(order: Order) -> str | None:
    """Why the refund action leaves this order alone; None if it can refund it.

    The same checks as order_refund, which still has the last word.
    """
    if order.status == Order.Status.REFUNDED:
        return _("Already refunded.")
    if order.status == Order.Status.DISPUTED:
        return _("Disputed: the bank decides.")
    if order.paid_at is None:
        return _("Not paid (%(status)s): there is nothing to refund.") % {
            "status": order.get_status_display()
        }
    if not order.stripe_payment_intent_id or not order.amount_total:
        return _("Nothing was charged: a promotion code covered it all.")
    return None


class OrderInline(admin.TabularInline):
    """An enrollment's orders, newest first; read-only."""

    model = Order
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at", "-id"]
    fields = [
        "created_at",
        "status_display",
        "amount_total",
        "amount_refunded",
        "promotion_code",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "receipt_link",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("Status"))
    def status_display(self, obj: Order) -> SafeString:
        return order_status_html(obj)

    @admin.display(description=_("Receipt"))
    def receipt_link(self, obj: Order) -> SafeString | str:
        return _receipt_link(obj)


def _receipt_link(order: Order) -> SafeString | str:
    if not order.receipt_url:
        return "-"
    return format_html(
        '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
        order.receipt_url,
        _("Receipt"),
    )


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "student_email",
        "course_title",
        "status_display",
        "total_display",
        "refunded_display",
        "promotion_code",
        "paid_at",
    ]
    list_filter = ["status", "currency", "created_at", "paid_at"]
    date_hierarchy = "created_at"
    # Stripe ids are pasted whole: exact matches use their unique indexes.
    search_fields = [
        "enrollment__student_email",
        "=stripe_checkout_session_id",
        "=stripe_payment_intent_id",
        "=stripe_charge_id",
    ]
    search_help_text = _(
        "The student's email, or a whole Stripe id: Checkout Session, "
        "PaymentIntent or charge."
    )
    list_select_related = ["enrollment__course"]
    actions = ["refund_through_stripe", "export_as_csv"]
    fieldsets = (
        (_("Order"), {"fields": ("enrollment_link", "status", "currency")}),
        (
            _("Amounts"),
            {
                "fields": (
                    "amount_subtotal",
                    "amount_discount",
                    "promotion_code",
                    "amount_total",
                    "amount_refunded",
                )
            },
        ),
        (
            _("Stripe"),
            {
                "fields": (
                    "stripe_checkout_session_id",
                    "stripe_payment_intent_id",
                    "stripe_charge_id",
                    "receipt_link",
                    "hosted_invoice_url",
                    "stripe_dispute_id",
                    "dispute_status",
                )
            },
        ),
        (_("Dates"), {"fields": ("created_at", "paid_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [
            *(field.name for field in self.model._meta.fields),
            "enrollment_link",
            "receipt_link",
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Written by the payment flow only; staff read, export and refund.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # The record of money taken and given back stays.
        return False

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return has_refund_permission(request)

    @admin.display(description=_("student email"), ordering="enrollment__student_email")
    def student_email(self, obj: Order) -> str:
        return obj.enrollment.student_email or obj.enrollment.clerk_user_id

    @admin.display(description=_("course"), ordering="enrollment__course__title")
    def course_title(self, obj: Order) -> str:
        return obj.enrollment.course.title

    @admin.display(description=_("Status"), ordering="status")
    def status_display(self, obj: Order) -> SafeString:
        return order_status_html(obj)

    @admin.display(description=_("total"), ordering="amount_total")
    def total_display(self, obj: Order) -> str:
        return _money(obj.amount_total, obj.currency)

    @admin.display(description=_("refunded"), ordering="amount_refunded")
    def refunded_display(self, obj: Order) -> str:
        return _money(obj.amount_refunded, obj.currency) if obj.amount_refunded else "-"

    @admin.display(description=_("enrollment"))
    def enrollment_link(self, obj: Order) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:courses_enrollment_change", args=[obj.enrollment_id]),
            obj.enrollment,
        )

    @admin.display(description=_("receipt URL"))
    def receipt_link(self, obj: Order) -> SafeString | str:
        return _receipt_link(obj)

    @admin.action(description=_("Refund through Stripe"), permissions=["refund"])
    @requires_second_factor
    def refund_through_stripe(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> TemplateResponse | None:
        """Behind a confirmation page, like delete_selected: money leaves for good."""
        orders = list(queryset.select_related("enrollment__course").order_by("pk"))
        if not request.POST.get("post"):
            return self._refund_confirmation(request, orders)
        for order in orders:
            self._refund_one(request, order)
        return None

    def _refund_confirmation(
        self, request: HttpRequest, orders: list[Order]
    ) -> TemplateResponse:
        rows = [
            {
                "order": order,
                "student": self.student_email(order),
                "course": order.enrollment.course.title,
                "amount": _money(
                    order.amount_total - order.amount_refunded, order.currency
                ),
                "reason": _refund_skip_reason(order),
            }
            for order in orders
        ]
        refundable = [row for row in rows if row["reason"] is None]
        total = sum(
            (
                row["order"].amount_total - row["order"].amount_refunded
                for row in refundable
            ),
            Decimal(0),
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund through Stripe"),
            "opts": self.model._meta,
            "media": self.media,
            "queryset": orders,
            "refundable": refundable,
            "skipped": [row for row in rows if row["reason"] is not None],
            "total": _money(total, settings.STRIPE_CURRENCY),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/courses/order/refund_confirmation.html", context
        )

    def _refund_one(self, request: HttpRequest, order: Order) -> None:
        label = _("Order %(id)s (%(student)s, %(course)s)") % {
            "id": order.pk,
            "student": self.student_email(order),
            "course": order.enrollment.course.title,
        }
        reason = _refund_skip_reason(order)
        if reason is not None:
            self.message_user(
                request,
                _("%(order)s skipped: %(reason)s") % {"order": label, "reason": reason},
                messages.WARNING,
            )
            return
        # order_refund calls Stripe outside any lock, then locks the rows itself.
        try:
            refunded = order_refund(order_id=order.pk)
        except Order.DoesNotExist:
            error = _("it was deleted meanwhile.")
        except NotRefundable as exc:
            error = str(exc.detail)
        except stripe_gateway.PaymentsNotConfigured:
            error = _("payments are not configured (STRIPE_SECRET_KEY is empty).")
        except stripe_gateway.PaymentProviderError:
            # Details are in the log; trying again reuses the idempotency key,
            # so a refund Stripe did make is never made twice.
            error = _(
                "Stripe could not be reached or answered with an error. "
                "Try again in a few minutes."
            )
        else:
            # Stored, not displayed through the catalogs, like the other
            # staff actions' entries.
            self.log_change(
                request, refunded, "Refunded through Stripe by a staff action."
            )
            self.message_user(
                request,
                _("%(order)s: refunded through Stripe (%(status)s).")
                % {"order": label, "status": refunded.get_status_display()},
                messages.SUCCESS,
            )
            return
        self.message_user(
            request,
            _("%(order)s not refunded, nothing was changed: %(error)s")
            % {"order": label, "error": error},
            messages.ERROR,
        )

    @admin.action(description=_("Export selected orders as CSV"), permissions=["view"])
    def export_as_csv(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> StreamingHttpResponse:
        # The byte order mark makes spreadsheet programs read the file as UTF-8.
        lines = chain(["\ufeff"], order_export_csv(orders=queryset))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
        return response
