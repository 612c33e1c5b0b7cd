"""Clerk's webhook deliveries: each stored once by its `svix-id` and applied
once, in one transaction with its change; a failure is kept and retried."""

import logging
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from courses import clerk_gateway
from courses.clerk_gateway import WebhookEvent
from courses.models import ClerkWebhookDelivery
from courses.services.students.records import student_apply_clerk_user, student_erase

logger = logging.getLogger(__name__)

_LAST_ERROR_MAX_LENGTH = 2000


class DeliveryOutcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    FAILED = "failed"


HANDLED_EVENT_TYPES = ("user.created", "user.updated", "user.deleted")


class _StoredMeanwhile(Exception):
    """Another delivery of the same message committed first."""


def clerk_delivery_process(*, event: WebhookEvent) -> DeliveryOutcome:
    """Apply a verified Clerk delivery at most once, even delivered in parallel.

    The change and the delivery's "processed" row commit together; on failure
    both roll back and the error is recorded, so that Svix's retry (same
    `svix-id`) tries again. At most five queries.
    """
    try:
        try:
            return _delivery_apply_once(event)
        except _StoredMeanwhile:
            # Its row exists now: wait on its lock, then see it processed.
            return _delivery_apply_once(event)
    except Exception as exc:  # recorded, then answered with a 500
        logger.exception("Clerk delivery %s (%s) failed", event.id, event.type)
        _delivery_failure_record(event=event, error=exc)
        return DeliveryOutcome.FAILED


def _delivery_apply_once(event: WebhookEvent) -> DeliveryOutcome:
    with transaction.atomic():
        # A retry of a failed delivery, or a repeat, waits here on the row lock
        # until a delivery in flight commits, then sees it processed.
        stored = (
            ClerkWebhookDelivery.objects.select_for_update().filter(pk=event.id).first()
        )
        if stored is not None and stored.processed_at is not None:
            return DeliveryOutcome.DUPLICATE
        _delivery_apply(event)
        now = timezone.now()
        if stored is not None:
            stored.processed_at = now
            stored.attempts += 1
            stored.last_error = ""
            stored.save(update_fields=["processed_at", "attempts", "last_error"])
            return DeliveryOutcome.PROCESSED
        # A first delivery has no row to lock: it is inserted last, so a
        # concurrent delivery of the same message waits on this key until the
        # first commits, then fails on it and rolls its own work back.
        try:
            ClerkWebhookDelivery.objects.create(
                id=event.id,
                type=event.type,
                clerk_user_id=event.clerk_user_id,
                received_at=now,
                processed_at=now,
                attempts=1,
            )
        except IntegrityError:
            raise _StoredMeanwhile from None
    return DeliveryOutcome.PROCESSED


def _delivery_apply(event: WebhookEvent) -> None:
    if event.type in ("user.created", "user.updated"):
        student_apply_clerk_user(user=clerk_gateway.user_from_dict(event.data))
    elif event.type == "user.deleted":
        student_erase(clerk_user_id=event.clerk_user_id)
    # Any other type is recorded and acknowledged.


def _delivery_failure_record(*, event: WebhookEvent, error: Exception) -> None:
    message = f"{type(error).__name__}: {error}"[:_LAST_ERROR_MAX_LENGTH]
    with transaction.atomic():
        updated = ClerkWebhookDelivery.objects.filter(pk=event.id).update(
            attempts=F("attempts") + 1, last_error=message
        )
        if not updated:
            ClerkWebhookDelivery.objects.bulk_create(
                [
                    ClerkWebhookDelivery(
                        id=event.id,
                        type=event.type,
                        clerk_user_id=event.clerk_user_id,
                        attempts=1,
                        last_error=message,
                    )
                ],
                ignore_conflicts=True,
            )
