"""Refunds, made by staff through Stripe or reported by Stripe: access revoked once."""

import logging

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from courses import stripe_gateway
from courses.models import Enrollment
from courses.services.payments.errors import NotRefundable

logger = logging.getLogger(__name__)


def enrollment_refund(*, enrollment_id: int) -> Enrollment:
    """Refund a paid enrollment in full through Stripe and revoke access. Idempotent.

    Raises Enrollment.DoesNotExist, NotRefundable (not paid, or paid without
    Stripe), or the gateway's PaymentsNotConfigured / PaymentProviderError.
    """
    enrollment = Enrollment.objects.get(pk=enrollment_id)
    if enrollment.status == Enrollment.Status.REFUNDED:
        return enrollment
    if enrollment.status != Enrollment.Status.PAID:
        raise NotRefundable
    payment_intent_id = enrollment.stripe_payment_intent_id
    if not payment_intent_id:
        raise NotRefundable(_("This enrollment has no Stripe payment to refund."))
    try:
        stripe_gateway.refund_create(
            payment_intent_id=payment_intent_id,
            # One refund per payment, however often staff click.
            idempotency_key=f"refund-enrollment-{enrollment.pk}-{payment_intent_id}",
        )
    except stripe_gateway.PaymentProviderError as exc:
        if exc.code != "charge_already_refunded":
            raise
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment_id)
        if (
            enrollment.status == Enrollment.Status.PAID
            and enrollment.stripe_payment_intent_id == payment_intent_id
        ):
            enrollment.mark_as_refunded()
    return enrollment


def refund_recorded(*, charge: stripe_gateway.Charge) -> Enrollment | None:
    """charge.refunded: a full refund revokes access; a partial one keeps it."""
    if not charge.is_fully_refunded or not charge.payment_intent_id:
        logger.info("Charge %s partly refunded: access kept", charge.id)
        return None
    with transaction.atomic(savepoint=False):
        enrollment = (
            Enrollment.objects.select_for_update()
            .filter(stripe_payment_intent_id=charge.payment_intent_id)
            .first()
        )
        if enrollment is not None:
            enrollment.mark_as_refunded()
    return enrollment
