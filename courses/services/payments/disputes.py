"""Disputes (chargebacks): a disputed payment takes the student's access away until
the bank decides; a dispute won gives it back, a lost one leaves it revoked.

Stripe's events can come in any order, before or after the payment is
recorded: the order keeps the dispute's latest status (a closed dispute stays
closed, whatever older news comes after), and an enrollment follows its
paying order. Safe to repeat.
"""

import logging

from django.db import transaction

from courses import stripe_gateway
from courses.models import Enrollment, Order
from courses.services.payments.orders import (
    enrollment_follow_order,
    order_dispute_apply,
    order_save,
    order_with_enrollment_locked,
)
from courses.services.payments.payment import session_id_for_payment_intent

logger = logging.getLogger(__name__)


def dispute_recorded(*, dispute: stripe_gateway.Dispute) -> Enrollment | None:
    """charge.dispute.created / .updated / .closed, or a dispute found by
    reconcile: the payment's order takes its status, and its enrollment the
    access that allows. Returns the enrollment, if any.

    Told before the payment was recorded, the dispute is kept on the pending
    order (its Checkout Session is asked of Stripe first, outside any lock)
    and applied when the payment is recorded.
    """
    enrollment, _changed = dispute_apply(
        dispute, session_id=dispute_session_lookup(dispute)
    )
    return enrollment


def dispute_session_lookup(dispute: stripe_gateway.Dispute) -> str | None:
    """The Checkout Session of a disputed payment no order knows yet (a
    request to Stripe), else None. Call outside any transaction."""
    return session_id_for_payment_intent(_payment_intent_id(dispute))


def dispute_apply(
    dispute: stripe_gateway.Dispute, *, session_id: str | None
) -> tuple[Enrollment | None, bool]:
    """dispute_recorded without its read from Stripe (`session_id`: from
    dispute_session_lookup), and whether the order changed."""
    payment_intent_id = _payment_intent_id(dispute)
    with transaction.atomic(savepoint=False):
        found = order_with_enrollment_locked(
            payment_intent_id=payment_intent_id, session_id=session_id
        )
        if found is None:
            logger.info("Dispute %s matches no order", dispute.id)
            return None, False
        order, enrollment = found
        changed = order_save(order, order_dispute_apply(order, dispute))
        if changed:
            logger.warning(
                "Order %s: dispute %s is %s", order.pk, dispute.id, dispute.status
            )
        enrollment_follow_order(enrollment, order)
    return enrollment, changed


def _payment_intent_id(dispute: stripe_gateway.Dispute) -> str | None:
    if dispute.payment_intent_id or not dispute.charge_id:
        return dispute.payment_intent_id
    return (
        Order.objects.filter(stripe_charge_id=dispute.charge_id)
        .values_list("stripe_payment_intent_id", flat=True)
        .first()
    )
