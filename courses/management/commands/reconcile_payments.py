"""Fulfil paid Stripe Checkout Sessions whose webhook never arrived, record refunds
and disputes that were missed, retry the automatic refunds of second payments
that Stripe did not take, and send Stripe Customers the changes it missed
(safe to repeat)."""

import datetime
import re

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from courses import stripe_gateway
from courses.models import PaymentReview
from courses.services.payments import (
    customers_reconcile,
    payment_adjustments_reconcile,
    payment_reviews_refund_pending,
    payments_reconcile,
)

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: str) -> datetime.timedelta:
    """'30m', '72h' or '2d' as a timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", value)
    if not match or int(match[1]) == 0:
        raise ValueError(value)
    return datetime.timedelta(**{_UNITS[match[2]]: int(match[1])})


class Command(BaseCommand):
    help = (
        "List Stripe's completed Checkout Sessions, refunds and disputes created "
        "in the last period and apply those that were missed (enrolling students, "
        "revoking access); retry the refunds of second payments still pending; "
        "send Stripe Customers the email changes and deletions they missed. Run "
        "it from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            default="72h",
            help="How far back to look: 30m, 72h, 2d (default 72h)",
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            period = parse_duration(str(options["since"]))
        except ValueError as exc:
            raise CommandError(
                f"--since must look like 30m, 72h or 2d, not {options['since']!r}"
            ) from exc
        since = timezone.now() - period
        try:
            repaired = payments_reconcile(since=since)
            adjusted = payment_adjustments_reconcile(since=since)
            retried = payment_reviews_refund_pending()
            customers = customers_reconcile()
        except stripe_gateway.PaymentsNotConfigured as exc:
            raise CommandError("STRIPE_SECRET_KEY is not set") from exc
        except stripe_gateway.PaymentProviderError as exc:
            raise CommandError(f"Stripe could not be reached: {exc}") from exc
        for enrollment in repaired:
            self.stdout.write(
                f"Repaired enrollment {enrollment.pk}: {enrollment.clerk_user_id} "
                f"paid {enrollment.price_paid} for course {enrollment.course_id} "
                f"(session {enrollment.stripe_session_id})"
            )
        for review in retried:
            outcome = (
                "refunded"
                if review.status == PaymentReview.Status.REFUNDED
                else f"still pending ({review.last_error})"
            )
            self.stdout.write(
                f"Second payment {review.stripe_payment_intent_id} "
                f"(enrollment {review.enrollment_id}): {outcome}"
            )
        for charge_id in adjusted.refunds:
            self.stdout.write(f"Refund of charge {charge_id} recorded")
        for dispute_id in adjusted.disputes:
            self.stdout.write(f"Dispute {dispute_id} recorded")
        for clerk_user_id in customers.updated:
            self.stdout.write(f"Stripe Customer of {clerk_user_id}: email updated")
        for clerk_user_id in customers.deleted:
            self.stdout.write(f"Stripe Customer of {clerk_user_id} (erased): deleted")
        for clerk_user_id in customers.failed:
            self.stdout.write(f"Stripe Customer of {clerk_user_id}: Stripe refused")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(repaired)} payment(s) repaired since "
                f"{since:%Y-%m-%d %H:%M %Z}; {len(adjusted.refunds)} refund(s) and "
                f"{len(adjusted.disputes)} dispute(s) recorded."
            )
        )
