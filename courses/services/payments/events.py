"""Stripe webhook events: stored once by id, applied once, retried on failure."""

import logging
from collections.abc import Callable
from enum import StrEnum

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from courses import stripe_gateway
from courses.models import StripeEvent
from courses.services.payments.fulfilment import (
    checkout_expired,
    checkout_fulfill,
    payment_failed,
    payment_intent_fulfill,
)
from courses.services.payments.refunds import refund_recorded
from courses.stripe_gateway import WebhookEvent

logger = logging.getLogger(__name__)

_LAST_ERROR_MAX_LENGTH = 2000


class EventOutcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    FAILED = "failed"


def stripe_event_process(*, event: WebhookEvent) -> EventOutcome:
    """Store a verified event and apply it at most once, even delivered in parallel.

    The business change and the "processed" mark commit together; on failure
    both roll back and the error is recorded, so Stripe's retry tries again.
    """
    already_done = StripeEvent.objects.filter(
        pk=event.id, processed_at__isnull=False
    ).exists()
    if already_done:
        return EventOutcome.DUPLICATE
    try:
        with transaction.atomic():
            # A concurrent delivery of the same id waits here on the row lock
            # until the first one commits, then sees it processed.
            StripeEvent.objects.bulk_create(
                [StripeEvent(id=event.id, type=event.type, payload=event.payload)],
                ignore_conflicts=True,
            )
            stored = StripeEvent.objects.select_for_update().get(pk=event.id)
            if stored.processed_at is not None:
                return EventOutcome.DUPLICATE
            handler = _EVENT_HANDLERS.get(event.type)
            if handler is not None:
                handler(event)
            stored.processed_at = timezone.now()
            stored.attempts += 1
            stored.last_error = ""
            stored.save(update_fields=["processed_at", "attempts", "last_error"])
    except Exception as exc:  # recorded, then answered with a 500
        logger.exception("Stripe event %s (%s) failed", event.id, event.type)
        _event_failure_record(event=event, error=exc)
        return EventOutcome.FAILED
    return EventOutcome.PROCESSED


def _event_failure_record(*, event: WebhookEvent, error: Exception) -> None:
    message = f"{type(error).__name__}: {error}"[:_LAST_ERROR_MAX_LENGTH]
    with transaction.atomic():
        updated = StripeEvent.objects.filter(pk=event.id).update(
            attempts=F("attempts") + 1, last_error=message
        )
        if not updated:
            StripeEvent.objects.bulk_create(
                [
                    StripeEvent(
                        id=event.id,
                        type=event.type,
                        payload=event.payload,
                        attempts=1,
                        last_error=message,
                    )
                ],
                ignore_conflicts=True,
            )


def _on_checkout_paid(event: WebhookEvent) -> None:
    # An unpaid "completed" session (a bank debit still clearing) waits for
    # checkout.session.async_payment_succeeded.
    checkout_fulfill(
        session=stripe_gateway.checkout_session_from_dict(event.data_object)
    )


def _on_checkout_payment_failed(event: WebhookEvent) -> None:
    payment_failed(checkout_session_id=event.data_object["id"])


def _on_checkout_expired(event: WebhookEvent) -> None:
    checkout_expired(
        session=stripe_gateway.checkout_session_from_dict(event.data_object)
    )


def _on_payment_intent_succeeded(event: WebhookEvent) -> None:
    payment_intent_fulfill(
        payment_intent=stripe_gateway.payment_intent_from_dict(event.data_object)
    )


def _on_payment_intent_failed(event: WebhookEvent) -> None:
    payment_failed(payment_intent_id=event.data_object["id"])


def _on_charge_refunded(event: WebhookEvent) -> None:
    refund_recorded(charge=stripe_gateway.charge_from_dict(event.data_object))


_EVENT_HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {
    "checkout.session.completed": _on_checkout_paid,
    "checkout.session.async_payment_succeeded": _on_checkout_paid,
    "checkout.session.async_payment_failed": _on_checkout_payment_failed,
    "checkout.session.expired": _on_checkout_expired,
    "payment_intent.succeeded": _on_payment_intent_succeeded,
    "payment_intent.payment_failed": _on_payment_intent_failed,
    "charge.refunded": _on_charge_refunded,
}


HANDLED_EVENT_TYPES = tuple(_EVENT_HANDLERS)
