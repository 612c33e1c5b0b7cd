"""Staff admin for payments that did not grant access as they came (PaymentReview).

Read-only: rows are written by the payment flow. Staff filter them by kind and
status, retry an automatic refund that Stripe did not take (with the refund
permission), and mark refused payments as reviewed once dealt with.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from courses.admin.staff_access import requires_second_factor
from courses.models import PaymentReview
from courses.services.payments import duplicate_payment_refund
from courses.services.payments.staff import payment_review_mark_reviewed

_STATUS_COLOURS = {
    PaymentReview.Status.REFUND_PENDING: "#b45309",
    PaymentReview.Status.REFUNDED: "#6b7280",
    PaymentReview.Status.TO_REVIEW: "#b91c1c",
    PaymentReview.Status.REVIEWED: "#15803d",
}


def has_refund_permission(request: HttpRequest) -> bool:
    """Refunds move money: their own permission, beyond changing a row."""
    return request.user.has_perm("courses.refund_enrollment")


@admin.register(PaymentReview)
class PaymentReviewAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "status_display",
        "enrollment_link",
        "amount_display",
        "stripe_payment_intent_id",
        "reason",
    ]
    list_filter = ["status", "kind", "created_at"]
    search_fields = [
        "=stripe_payment_intent_id",
        "=stripe_session_id",
        "=stripe_refund_id",
        "=enrollment__clerk_user_id",
    ]
    list_select_related = ["enrollment__course"]
    date_hierarchy = "created_at"
    actions = ["retry_refund", "mark_reviewed"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # The record of money refunded or refused stays.
        return False

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return has_refund_permission(request)

    @admin.display(description=_("Status"), ordering="status")
    def status_display(self, obj: PaymentReview) -> SafeString:
        return format_html(
            '<span class="payment-review-status payment-review-status-{}" '
            'style="color: {}; font-weight: bold;">{}</span>',
            obj.status,
            _STATUS_COLOURS[obj.status],
            obj.get_status_display(),
        )

    @admin.display(description=_("Enrollment"), ordering="enrollment")
    def enrollment_link(self, obj: PaymentReview) -> SafeString | str:
        if obj.enrollment is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:courses_enrollment_change", args=[obj.enrollment_id]),
            obj.enrollment,
        )

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, obj: PaymentReview) -> str:
        if obj.amount is None:
            return "-"
        amount = formats.number_format(obj.amount, decimal_pos=2, use_l10n=True)
        currency = (obj.currency or settings.STRIPE_CURRENCY).upper()
        return f"{amount}\u00a0{currency}"

    @admin.action(
        description=_("Retry the automatic refund through Stripe"),
        permissions=["refund"],
    )
    @requires_second_factor
    def retry_refund(
        self, request: HttpRequest, queryset: QuerySet[PaymentReview]
    ) -> None:
        pending = queryset.filter(status=PaymentReview.Status.REFUND_PENDING)
        refunded = failed = 0
        for review_id in pending.order_by("pk").values_list("pk", flat=True):
            review = duplicate_payment_refund(review_id=review_id)
            if review.status == PaymentReview.Status.REFUNDED:
                refunded += 1
            else:
                failed += 1
        if refunded:
            self.message_user(
                request,
                ngettext(
                    "%(count)d payment refunded.",
                    "%(count)d payments refunded.",
                    refunded,
                )
                % {"count": refunded},
                messages.SUCCESS,
            )
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d refund failed again; the error is on the row.",
                    "%(count)d refunds failed again; the error is on each row.",
                    failed,
                )
                % {"count": failed},
                messages.ERROR,
            )
        if not refunded and not failed:
            self.message_user(
                request,
                _("No selected payment was waiting for a refund."),
                messages.WARNING,
            )

    @admin.action(description=_("Mark as reviewed"), permissions=["change"])
    def mark_reviewed(
        self, request: HttpRequest, queryset: QuerySet[PaymentReview]
    ) -> None:
        count = payment_review_mark_reviewed(
            review_ids=list(queryset.values_list("pk", flat=True)), user=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d payment marked as reviewed.",
                "%(count)d payments marked as reviewed.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
