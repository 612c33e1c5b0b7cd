"""Students (Clerk users kept in step through Clerk's webhooks) and the inbox of
those webhook deliveries, each stored once by its Svix message id."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Student(models.Model):
    """A Clerk user as Clerk last told us; after deletion, a tombstone.

    Enrollments name their student by `clerk_user_id` (the same string), so
    payments stay traceable whether or not this row exists yet.
    """

    clerk_user_id = models.CharField(_("Clerk user ID"), max_length=255, unique=True)
    email = models.EmailField(_("email"), blank=True)
    first_name = models.CharField(_("first name"), max_length=255, blank=True)
    last_name = models.CharField(_("last name"), max_length=255, blank=True)
    image_url = models.URLField(_("image URL"), max_length=2000, blank=True)
    # Clerk's own `updated_at` of the newest data applied: older data arriving
    # late (Svix does not keep order) changes nothing. Empty until Clerk's data
    # (webhook, Backend API) is applied; a row made from token claims has none.
    clerk_updated_at = models.DateTimeField(
        _("updated in Clerk at"), null=True, blank=True
    )
    # The student's Stripe Customer, created at their first payment and named
    # in every later one; the email it was last given, so that a change of
    # email in Clerk reaches Stripe once (see services/payments/customers.py).
    stripe_customer_id = models.CharField(
        _("Stripe customer ID"), max_length=255, blank=True
    )
    stripe_customer_email = models.EmailField(_("email given to Stripe"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    deleted_at = models.DateTimeField(
        _("deleted at"),
        null=True,
        blank=True,
        help_text=_("When the account was deleted in Clerk; its personal data is gone"),
    )

    class Meta:
        verbose_name = _("student")
        verbose_name_plural = _("students")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A tombstone keeps nothing that names the person.
            models.CheckConstraint(
                condition=models.Q(deleted_at__isnull=True)
                | models.Q(
                    email="",
                    first_name="",
                    last_name="",
                    image_url="",
                    stripe_customer_email="",
                ),
                name="student_deleted_is_erased",
            ),
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                condition=~models.Q(stripe_customer_id=""),
                name="one_student_per_stripe_customer",
            ),
        ]

    def __str__(self) -> str:
        if self.deleted_at is not None:
            return f"{self.clerk_user_id} ({_('deleted')})"
        return self.full_name or self.email or self.clerk_user_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ClerkWebhookDelivery(models.Model):
    """A verified Clerk webhook delivery, stored once by its `svix-id`.

    No payload is kept: a user's email and names live on the Student alone,
    so deleting the account leaves no copy here. Svix keeps the message for
    replays from Clerk's dashboard.
    """

    id = models.CharField(_("Svix message ID"), max_length=255, primary_key=True)
    type = models.CharField(_("type"), max_length=255)
    clerk_user_id = models.CharField(_("Clerk user ID"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("Clerk webhook delivery")
        verbose_name_plural = _("Clerk webhook deliveries")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"
