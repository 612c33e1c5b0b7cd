"""Catching up with Stripe after missed webhooks: payments, refunds, disputes.

Each finding goes through the same function as its webhook event would
(payment_fulfil, charge_apply, dispute_apply), so running it any number of
times, alongside the webhook, changes things once.
"""

import datetime
import logging
from dataclasses import dataclass, field

from courses import stripe_gateway
from courses.models import Enrollment, Order
from courses.models.orders import DISPUTE_CLOSED_STATUSES
from courses.services.payments.disputes import dispute_apply, dispute_session_lookup
from courses.services.payments.fulfilment import checkout_fulfill_changed
from courses.services.payments.payment import session_id_for_payment_intent
from courses.services.payments.refunds import charge_apply

logger = logging.getLogger(__name__)


def payments_reconcile(*, since: datetime.datetime) -> list[Enrollment]:
    """Fulfil every paid Checkout Session since a time that we missed; returns those.

    Each session is listed with its charge, so a session already recorded
    whose refund or dispute was missed gets its order repaired too.
    """
    repaired = []
    created_since = int(since.timestamp())
    for session in stripe_gateway.checkout_session_list_completed(
        created_since=created_since
    ):
        if not session.metadata.get("clerk_user_id"):
            continue  # not a course purchase
        enrollment, changed = checkout_fulfill_changed(session)
        if changed and enrollment is not None:
            logger.warning(
                "Reconcile: enrollment %s paid by session %s", enrollment.pk, session.id
            )
            repaired.append(enrollment)
    return repaired


@dataclass
class AdjustmentReport:
    """Orders whose refunds or disputes were missed, by Stripe id."""

    refunds: list[str] = field(default_factory=list)  # charge ids
    disputes: list[str] = field(default_factory=list)  # dispute ids


def payment_adjustments_reconcile(*, since: datetime.datetime) -> AdjustmentReport:
    """Apply every refund and dispute created since a time, and the latest status
    of every dispute still open here (it may have closed since, long after
    it was created)."""
    report = AdjustmentReport()
    created_since = int(since.timestamp())
    seen: set[str] = set()
    for charge in stripe_gateway.refund_list_charges(created_since=created_since):
        if charge.id in seen:
            continue  # refunded more than once: the charge says the total
        seen.add(charge.id)
        _enrollment, changed = charge_apply(
            charge, session_id=session_id_for_payment_intent(charge.payment_intent_id)
        )
        if changed:
            logger.warning("Reconcile: refund of charge %s recorded", charge.id)
            report.refunds.append(charge.id)
    disputes = {
        dispute.id: dispute
        for dispute in stripe_gateway.dispute_list(created_since=created_since)
    }
    still_open = (
        Order.objects.exclude(stripe_dispute_id="")
        .exclude(dispute_status__in=DISPUTE_CLOSED_STATUSES)
        .exclude(stripe_dispute_id__in=list(disputes))
        .values_list("stripe_dispute_id", flat=True)
    )
    for dispute_id in still_open:
        disputes[dispute_id] = stripe_gateway.dispute_get(dispute_id)
    for dispute in disputes.values():
        _enrollment, changed = dispute_apply(
            dispute, session_id=dispute_session_lookup(dispute)
        )
        if changed:
            logger.warning(
                "Reconcile: dispute %s recorded (%s)", dispute.id, dispute.status
            )
            report.disputes.append(dispute.id)
    return report
