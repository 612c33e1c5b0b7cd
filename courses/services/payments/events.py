"""Stripe webhook events: stored once by id, applied once, retried on failure.

An event's handler may first read from Stripe what its payload does not carry
(a promotion code's text, an invoice's page, the Checkout Session of a charge
no order knows yet); that read happens before the event's transaction, so no
lock or connection is held across it. A paid session with neither needs no
read at all.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from courses import stripe_gateway
from courses.models import StripeEvent
from courses.services.payments.disputes import dispute_apply, dispute_session_lookup
from courses.services.payments.fulfilment import (
    checkout_expired,
    payment_failed,
    payment_fulfil,
    payment_intent_payment_read,
)
from courses.services.payments.payment import (
    payment_of_session,
    session_id_for_payment_intent,
)
from courses.services.payments.refunds import charge_apply
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
    handler = _EVENT_HANDLERS.get(event.type)
    try:
        prepared = handler.prepare(event) if handler and handler.prepare else None
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
            if handler is not None:
                handler.apply(event, prepared)
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


@dataclass(frozen=True)
class _Handler:
    # Applied in the event's transaction, with what `prepare` read from Stripe
    # before it (None without a prepare step).
    apply: Callable[[WebhookEvent, Any], None]
    prepare: Callable[[WebhookEvent], Any] | None = None


def _read_paid_checkout(event: WebhookEvent) -> Any:
    session = stripe_gateway.checkout_session_from_dict(event.data_object)
    # An unpaid "completed" session (a bank debit still clearing) waits for
    # checkout.session.async_payment_succeeded.
    return payment_of_session(session) if session.is_paid else None


def _on_checkout_paid(event: WebhookEvent, payment: Any) -> None:
    if payment is not None:
        payment_fulfil(payment, unmatched_level=logging.WARNING)


def _on_checkout_payment_failed(event: WebhookEvent, _prepared: Any) -> None:
    payment_failed(checkout_session_id=event.data_object["id"])


def _on_checkout_expired(event: WebhookEvent, _prepared: Any) -> None:
    checkout_expired(
        session=stripe_gateway.checkout_session_from_dict(event.data_object)
    )


def _read_succeeded_payment_intent(event: WebhookEvent) -> Any:
    payment_intent = stripe_gateway.payment_intent_from_dict(event.data_object)
    return payment_intent_payment_read(payment_intent)


def _on_payment_intent_succeeded(event: WebhookEvent, payment: Any) -> None:
    if payment is not None:
        payment_fulfil(payment, unmatched_level=logging.INFO)


def _on_payment_intent_failed(event: WebhookEvent, _prepared: Any) -> None:
    payment_failed(payment_intent_id=event.data_object["id"])


def _read_charge_session(event: WebhookEvent) -> Any:
    charge = stripe_gateway.charge_from_dict(event.data_object)
    return session_id_for_payment_intent(charge.payment_intent_id)


def _on_charge(event: WebhookEvent, session_id: Any) -> None:
    # A charge succeeded (its receipt) or was refunded (in part or in full).
    charge_apply(
        stripe_gateway.charge_from_dict(event.data_object), session_id=session_id
    )


def _read_dispute_session(event: WebhookEvent) -> Any:
    return dispute_session_lookup(stripe_gateway.dispute_from_dict(event.data_object))


def _on_dispute(event: WebhookEvent, session_id: Any) -> None:
    dispute_apply(
        stripe_gateway.dispute_from_dict(event.data_object), session_id=session_id
    )


_EVENT_HANDLERS: dict[str, _Handler] = {
    "checkout.session.completed": _Handler(_on_checkout_paid, _read_paid_checkout),
    "checkout.session.async_payment_succeeded": _Handler(
        _on_checkout_paid, _read_paid_checkout
    ),
    "checkout.session.async_payment_failed": _Handler(_on_checkout_payment_failed),
    "checkout.session.expired": _Handler(_on_checkout_expired),
    "payment_intent.succeeded": _Handler(
        _on_payment_intent_succeeded, _read_succeeded_payment_intent
    ),
    "payment_intent.payment_failed": _Handler(_on_payment_intent_failed),
    "charge.succeeded": _Handler(_on_charge, _read_charge_session),
    "charge.refunded": _Handler(_on_charge, _read_charge_session),
    "charge.dispute.created": _Handler(_on_dispute, _read_dispute_session),
    "charge.dispute.updated": _Handler(_on_dispute, _read_dispute_session),
    "charge.dispute.closed": _Handler(_on_dispute, _read_dispute_session),
}


HANDLED_EVENT_TYPES = tuple(_EVENT_HANDLERS)
