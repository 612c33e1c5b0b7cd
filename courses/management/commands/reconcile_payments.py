"""Fulfil paid Stripe Checkout Sessions whose webhook never arrived, and retry the
automatic refunds of second payments that Stripe did not take (safe to repeat)."""

import datetime
import re

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from courses import stripe_gateway
from courses.models import PaymentReview
from courses.services.payments import (
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
        "List Stripe's completed Checkout Sessions created in the last period and "
        "enroll the students whose payment was missed; retry the refunds of "
        "second payments still pending. Run it from cron."
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
            retried = payment_reviews_refund_pending()
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
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(repaired)} payment(s) repaired since {since:%Y-%m-%d %H:%M %Z}."
            )
        )
