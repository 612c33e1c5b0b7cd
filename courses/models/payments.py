"""Enrollments (what a student bought, and its payment status), Stripe's events, and
the payments that did not grant access as they came (PaymentReview)."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EnrollmentQuerySet(models.QuerySet):
    def paid(self) -> "EnrollmentQuerySet":
        return self.filter(status=Enrollment.Status.PAID)

    def for_student(self, clerk_user_id: str) -> "EnrollmentQuerySet":
        return self.filter(clerk_user_id=clerk_user_id)


class Enrollment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        REFUNDED = "refunded", _("Refunded")
        # Paid, then contested with the bank: no access while the dispute is
        # open, nor after it is lost.
        DISPUTED = "disputed", _("Disputed")

    course = models.ForeignKey(
        "courses.Course",
        on_delete=models.CASCADE,
        related_name="enrollments",
        verbose_name=_("course"),
    )
    clerk_user_id = models.CharField(
        _("Clerk user ID"),
        max_length=255,
        help_text=_("Unique identifier of the user in Clerk"),
    )
    student_email = models.EmailField(
        _("student email"),
        blank=True,
        help_text=_("Email of the student at enrollment time"),
    )
    student_name = models.CharField(_("student name"), max_length=200, blank=True)
    price_paid = models.DecimalField(
        _("price paid"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text=_("Price paid by the student (may differ from the current price)"),
    )
    status = models.CharField(
        _("payment status"),
        max_length=16,
        choices=Status,
        default=Status.PENDING,
    )
    # Kept for the API and the admin; always written together with `status`
    # (see _set_status) and held to it by a database constraint.
    is_paid = models.BooleanField(
        _("paid"), default=False, help_text=_("Has the payment been confirmed?")
    )
    # Stripe ids are NULL until Stripe assigns them (the tutorial's schema).
    stripe_payment_intent_id = models.CharField(  # noqa: DJ001
        _("Stripe PaymentIntent"), max_length=255, blank=True, null=True
    )
    stripe_customer_id = models.CharField(  # noqa: DJ001
        _("Stripe customer ID"),
        max_length=255,
        blank=True,
        null=True,
        help_text=_("ID of the customer in Stripe"),
    )
    stripe_session_id = models.CharField(
        _("Stripe session ID"),
        max_length=255,
        blank=True,
        null=True,
        unique=True,
        help_text=_("ID of the Stripe Checkout Session"),
    )
    enrolled_at = models.DateTimeField(_("enrolled at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    # When the student completed the last published lesson (courses.services.
    # learning); cleared if they mark a lesson incomplete again.
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["-enrolled_at", "-id"]
        # Money leaves for good: more than the permission to edit a row.
        permissions = [
            ("refund_enrollment", _("Can refund an enrollment through Stripe")),
        ]
        indexes = [
            models.Index(fields=["clerk_user_id"], name="enrollment_clerk_user_idx"),
            models.Index(fields=["is_paid"], name="enrollment_is_paid_idx"),
            models.Index(fields=["stripe_payment_intent_id"], name="enrollment_pi_idx"),
            # A student's own enrollments (my-courses, is_enrolled).
            models.Index(
                fields=["clerk_user_id", "status", "-enrolled_at"],
                name="enrollment_student_status_idx",
            ),
            # Paid enrollments per course (enrollment_count).
            models.Index(
                fields=["course", "status"], name="enrollment_course_status_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "clerk_user_id"], name="one_enrollment_per_student"
            ),
            models.CheckConstraint(
                condition=models.Q(price_paid__gte=0),
                name="enrollment_price_paid_not_negative",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="paid", is_paid=True)
                    | (~models.Q(status="paid") & models.Q(is_paid=False))
                ),
                name="enrollment_is_paid_matches_status",
            ),
        ]

    def __str__(self) -> str:
        who = self.student_email or self.clerk_user_id
        return f"{who} - {self.course} ({self.get_status_display()})"

    def _set_status(self, status: str) -> None:
        self.status = status
        self.is_paid = status == self.Status.PAID

    def mark_as_paid(
        self,
        *,
        price_paid: Decimal | None = None,
        payment_intent_id: str | None = None,
        customer_id: str | None = None,
    ) -> bool:
        """Mark paid and save; returns False (and changes nothing) if already paid."""
        if self.status == self.Status.PAID:
            return False
        self._set_status(self.Status.PAID)
        self.paid_at = timezone.now()
        self.refunded_at = None
        fields = ["status", "is_paid", "paid_at", "refunded_at", "updated_at"]
        if price_paid is not None:
            self.price_paid = price_paid
            fields.append("price_paid")
        if payment_intent_id:
            self.stripe_payment_intent_id = payment_intent_id
            fields.append("stripe_payment_intent_id")
        if customer_id:
            self.stripe_customer_id = customer_id
            fields.append("stripe_customer_id")
        self.save(update_fields=fields)
        return True

    def mark_as_unpaid(self) -> bool:
        """Back to pending (a staff correction); returns False if not paid."""
        if self.status != self.Status.PAID:
            return False
        self._set_status(self.Status.PENDING)
        self.paid_at = None
        self.save(update_fields=["status", "is_paid", "paid_at", "updated_at"])
        return True

    def mark_as_failed(self) -> bool:
        """A failed payment; never downgrades a paid or refunded enrollment."""
        if self.status not in (self.Status.PENDING, self.Status.EXPIRED):
            return False
        self._set_status(self.Status.FAILED)
        self.save(update_fields=["status", "is_paid", "updated_at"])
        return True

    def mark_as_expired(self) -> bool:
        """An abandoned checkout; only a pending enrollment expires."""
        if self.status != self.Status.PENDING:
            return False
        self._set_status(self.Status.EXPIRED)
        self.save(update_fields=["status", "is_paid", "updated_at"])
        return True

    def mark_as_refunded(self) -> bool:
        """Access revoked after a full refund; returns False if already refunded."""
        if self.status == self.Status.REFUNDED:
            return False
        self._set_status(self.Status.REFUNDED)
        self.refunded_at = timezone.now()
        self.save(update_fields=["status", "is_paid", "refunded_at", "updated_at"])
        return True

    def mark_as_disputed(self) -> bool:
        """A paid enrollment whose payment is contested loses access."""
        if self.status != self.Status.PAID:
            return False
        self._set_status(self.Status.DISPUTED)
        self.save(update_fields=["status", "is_paid", "updated_at"])
        return True

    def restore_after_dispute(self) -> bool:
        """A dispute won: access again, with the payment's own date kept."""
        if self.status != self.Status.DISPUTED:
            return False
        self._set_status(self.Status.PAID)
        self.save(update_fields=["status", "is_paid", "updated_at"])
        return True

    def reopen(self) -> bool:
        """Make a failed or expired enrollment pending again for a new checkout."""
        if self.status not in (self.Status.FAILED, self.Status.EXPIRED):
            return False
        self._set_status(self.Status.PENDING)
        self.save(update_fields=["status", "is_paid", "updated_at"])
        return True


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored once by its id."""

    id = models.CharField(_("event ID"), max_length=255, primary_key=True)
    type = models.CharField(_("type"), max_length=255)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["type"], name="stripe_event_type_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class PaymentReview(models.Model):
    """A payment that did not grant access as it came, kept for staff.

    A second payment for an enrollment already paid is refunded automatically
    (refund_pending, then refunded); a payment in another currency or in the
    other Stripe mode grants nothing and waits for staff (to_review).
    """

    class Kind(models.TextChoices):
        DUPLICATE = "duplicate", _("Second payment")
        WRONG_CURRENCY = "wrong_currency", _("Wrong currency")
        WRONG_MODE = "wrong_mode", _("Wrong mode (test or live)")

    class Status(models.TextChoices):
        REFUND_PENDING = "refund_pending", _("Refund pending")
        REFUNDED = "refunded", _("Refunded")
        TO_REVIEW = "to_review", _("To review")
        REVIEWED = "reviewed", _("Reviewed")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind)
    status = models.CharField(_("status"), max_length=32, choices=Status)
    enrollment = models.ForeignKey(
        "courses.Enrollment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="payment_reviews",
        verbose_name=_("enrollment"),
    )
    stripe_payment_intent_id = models.CharField(  # noqa: DJ001
        _("Stripe PaymentIntent"), max_length=255, blank=True, null=True
    )
    stripe_session_id = models.CharField(  # noqa: DJ001
        _("Stripe session ID"), max_length=255, blank=True, null=True
    )
    amount = models.DecimalField(
        _("amount"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    is_livemode = models.BooleanField(_("live mode"), default=False)
    reason = models.CharField(_("reason"), max_length=255)
    stripe_refund_id = models.CharField(_("Stripe refund"), max_length=255, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment to review")
        verbose_name_plural = _("payments to review")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["status", "-created_at"], name="payment_review_status_idx"
            )
        ]
        constraints = [
            # One row per payment and kind, however often Stripe tells us.
            models.UniqueConstraint(
                fields=["kind", "stripe_payment_intent_id"],
                condition=models.Q(stripe_payment_intent_id__isnull=False),
                name="one_review_per_payment_intent",
            ),
            models.UniqueConstraint(
                fields=["kind", "stripe_session_id"],
                condition=models.Q(stripe_session_id__isnull=False),
                name="one_review_per_checkout_session",
            ),
            # A refund is only ever made for a PaymentIntent.
            models.CheckConstraint(
                condition=~models.Q(status__in=["refund_pending", "refunded"])
                | models.Q(stripe_payment_intent_id__isnull=False),
                name="payment_review_refund_has_payment_intent",
            ),
        ]

    def __str__(self) -> str:
        payment = self.stripe_payment_intent_id or self.stripe_session_id or "?"
        return f"{self.get_kind_display()} {payment} ({self.get_status_display()})"

    def mark_refunded(self, *, refund_id: str) -> bool:
        """Record Stripe's refund; returns False if it was already recorded."""
        if self.status == self.Status.REFUNDED:
            return False
        self.status = self.Status.REFUNDED
        self.stripe_refund_id = refund_id
        self.refunded_at = timezone.now()
        self.last_error = ""
        fields = ["status", "stripe_refund_id", "refunded_at", "last_error"]
        self.save(update_fields=[*fields, "updated_at"])
        return True
