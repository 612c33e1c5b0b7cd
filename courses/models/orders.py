"""Orders: one row per payment attempt that reached Stripe (a Checkout Session or
a PaymentIntent), with what was charged, discounted, refunded and disputed.

An order belongs to an enrollment, and every write to an order happens under
its enrollment's row lock (courses/services/payments/orders.py), so the two
never disagree and no order row needs a lock of its own.
"""

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

_ZERO = Decimal("0.00")

# Stripe's dispute statuses after which nothing changes any more
# (warning_closed ends an inquiry; prevented, a dispute stopped beforehand).
DISPUTE_CLOSED_STATUSES = frozenset({"won", "lost", "warning_closed", "prevented"})
# Closed, and the money went back to the cardholder.
DISPUTE_LOST_STATUSES = frozenset({"lost"})


def _money_field(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(
        verbose_name, max_digits=10, decimal_places=2, default=_ZERO
    )


class OrderQuerySet(models.QuerySet):
    def for_student(self, clerk_user_id: str) -> "OrderQuerySet":
        return self.filter(enrollment__clerk_user_id=clerk_user_id)


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")
        DISPUTED = "disputed", _("Disputed")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    enrollment = models.ForeignKey(
        "courses.Enrollment",
        on_delete=models.CASCADE,
        related_name="orders",
        verbose_name=_("enrollment"),
    )
    amount_subtotal = _money_field(_("subtotal"))
    amount_discount = _money_field(_("discount"))
    amount_total = _money_field(_("total"))
    amount_refunded = _money_field(_("refunded"))
    currency = models.CharField(_("currency"), max_length=8)
    status = models.CharField(
        _("status"), max_length=24, choices=Status, default=Status.PENDING
    )
    # Stripe ids are NULL until known, so that the unique ones stay unique.
    stripe_checkout_session_id = models.CharField(
        _("Stripe Checkout Session"), max_length=255, null=True, blank=True, unique=True
    )
    stripe_payment_intent_id = models.CharField(
        _("Stripe PaymentIntent"), max_length=255, null=True, blank=True, unique=True
    )
    stripe_charge_id = models.CharField(
        _("Stripe charge"), max_length=255, null=True, blank=True, unique=True
    )
    stripe_dispute_id = models.CharField(
        _("Stripe dispute"), max_length=255, blank=True
    )
    dispute_status = models.CharField(
        _("dispute status"),
        max_length=32,
        blank=True,
        help_text=_("Stripe's status of the dispute, if the payment was disputed"),
    )
    promotion_code = models.CharField(
        _("promotion code"),
        max_length=255,
        blank=True,
        help_text=_("The code the student entered on Stripe's page, if any"),
    )
    receipt_url = models.URLField(_("receipt URL"), max_length=2000, blank=True)
    hosted_invoice_url = models.URLField(_("invoice URL"), max_length=2000, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="order_newest_idx"),
            models.Index(fields=["status", "-created_at"], name="order_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stripe_checkout_session_id__isnull=False)
                | models.Q(stripe_payment_intent_id__isnull=False),
                name="order_reached_stripe",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    amount_subtotal__gte=0,
                    amount_discount__gte=0,
                    amount_total__gte=0,
                    amount_refunded__gte=0,
                ),
                name="order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "failed", "expired"])
                | models.Q(paid_at__isnull=False),
                name="order_paid_has_paid_at",
            ),
        ]

    def __str__(self) -> str:
        stripe_id = self.stripe_payment_intent_id or self.stripe_checkout_session_id
        return f"{_('Order')} {self.pk} ({stripe_id}, {self.get_status_display()})"

    @property
    def is_paid(self) -> bool:
        """Paid at some point, whatever happened since (refund, dispute)."""
        return self.paid_at is not None

    @property
    def amount_not_refunded(self) -> Decimal:
        return max(self.amount_total - self.amount_refunded, _ZERO)

    @property
    def grants_access(self) -> bool:
        return self.status in (self.Status.PAID, self.Status.PARTIALLY_REFUNDED)

    @property
    def is_dispute_open(self) -> bool:
        return bool(self.dispute_status) and (
            self.dispute_status not in DISPUTE_CLOSED_STATUSES
        )

    def settled_status(self) -> str:
        """The status its facts give: a paid order is disputed (open or lost),
        refunded (in full), partially refunded or paid; an unpaid one keeps its
        own (pending, failed, expired)."""
        if self.paid_at is None:
            return self.status
        if self.is_dispute_open or self.dispute_status in DISPUTE_LOST_STATUSES:
            return self.Status.DISPUTED
        if self.amount_refunded > 0 and self.amount_refunded >= self.amount_total:
            return self.Status.REFUNDED
        if self.amount_refunded > 0:
            return self.Status.PARTIALLY_REFUNDED
        return self.Status.PAID

    def apply_refunded_amount(self, amount_refunded: Decimal) -> bool:
        """Stripe's total refunded so far; refunds only add up, so an older report
        arriving late never lowers it. Returns whether it changed."""
        if amount_refunded <= self.amount_refunded:
            return False
        self.amount_refunded = amount_refunded
        return True

    def apply_dispute(self, *, dispute_id: str, status: str) -> bool:
        """Stripe's latest word on the dispute; a closed dispute stays closed
        whatever older news arrives after it. Returns whether it changed."""
        is_same = dispute_id == self.stripe_dispute_id
        if is_same and self.dispute_status in DISPUTE_CLOSED_STATUSES:
            return False
        if is_same and self.dispute_status == status:
            return False
        self.stripe_dispute_id = dispute_id
        self.dispute_status = status
        return True
