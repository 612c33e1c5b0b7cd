"""The enrollment admin's refund action: a confirmation page listing what
will be refunded and what skipped, then one refund per enrollment through
enrollment_refund, each reported and logged. Only for staff with the
refund_enrollment permission, and, with ADMIN_REQUIRE_2FA, a session that
has passed the second factor."""

from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from courses import stripe_gateway
from courses.admin.display import money_with_currency, student_label
from courses.admin.reviews import has_refund_permission
from courses.admin.staff_access import requires_second_factor
from courses.models import Enrollment
from courses.services.payments import NotRefundable, enrollment_refund


def _enrollment_label(enrollment: Enrollment) -> str:
    return _("Enrollment %(id)s (%(student)s, %(course)s)") % {
        "id": enrollment.pk,
        "student": student_label(enrollment),
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


class EnrollmentRefundActions:
    """Mixed into EnrollmentAdmin, which lists `refund_through_stripe` in its
    actions."""

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
                "student": student_label(enrollment),
                "amount": money_with_currency(enrollment.price_paid),
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
            "total": money_with_currency(total),
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
                "amount": money_with_currency(enrollment.price_paid),
            },
            messages.SUCCESS,
        )
