"""Payments: start a checkout, grant access exactly once per payment, refunds, events.

Every path that learns about a payment (the webhook, verify_payment, the
reconcile command) ends in `_payment_record`, which locks the enrollment row and
is a no-op when the work is already done. Stripe calls happen outside row locks.
"""

import datetime
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.exceptions import Conflict
from courses.models import Course, Enrollment, StripeEvent
from courses.stripe_gateway import CheckoutSession, PaymentIntent, WebhookEvent

logger = logging.getLogger(__name__)

_ZERO = Decimal("0.00")
_LAST_ERROR_MAX_LENGTH = 2000


class AlreadyEnrolled(Conflict):
    default_detail = _("You are already enrolled in this course.")
    default_code = "already_enrolled"


class EnrollmentRefunded(Conflict):
    default_detail = _(
        "Your payment for this course was refunded. Contact support to enroll again."
    )
    default_code = "enrollment_refunded"


class NotRefundable(Conflict):
    """Raised by enrollment_refund: nothing was paid through Stripe."""

    default_detail = _("Only a paid enrollment can be refunded.")
    default_code = "not_refundable"


class PaymentInProgress(Conflict):
    default_detail = _(
        "A payment for this course is being processed. Try again in a few minutes."
    )
    default_code = "payment_in_progress"


class PaymentNotFound(NotFound):
    default_detail = _("No payment with this id was found for you.")
    default_code = "payment_not_found"


@dataclass(frozen=True)
class CheckoutStart:
    enrollment: Enrollment
    # None for a free course: the student is enrolled at once, without Stripe.
    session: CheckoutSession | None


@dataclass(frozen=True)
class PaymentIntentStart:
    enrollment: Enrollment
    payment_intent: PaymentIntent


@dataclass(frozen=True)
class PaymentVerification:
    status: str  # "paid", "pending" or "refunded"
    payment_status: str  # Stripe's payment_status of the session
    enrollment: Enrollment | None


class EventOutcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    FAILED = "failed"


# --- Starting a payment -----------------------------------------------------------


def checkout_start(
    *, course: Course, student: ClerkUser, success_url: str, cancel_url: str
) -> CheckoutStart:
    """A Stripe Checkout Session for a pending enrollment written beforehand.

    The pending row exists before Stripe does, so a webhook that comes back
    faster than this function finds it. A free course is enrolled at once.
    """
    enrollment = _pending_enrollment_get_or_create(course=course, student=student)
    if course.price == _ZERO:
        return CheckoutStart(
            enrollment=_free_enrollment_grant(enrollment), session=None
        )

    if enrollment.stripe_session_id:
        reusable = _checkout_session_reusable(
            enrollment=enrollment,
            amount=course.price,
            success_url=success_url,
            cancel_url=cancel_url,
        )
        if reusable is not None:
            return CheckoutStart(enrollment=enrollment, session=reusable)

    metadata = _payment_metadata(enrollment=enrollment, course=course)
    session = stripe_gateway.checkout_session_create(
        amount=course.price,
        product_name=course.title,
        product_description=course.description,
        success_url=success_url,
        cancel_url=cancel_url,
        client_reference_id=student.clerk_user_id,
        customer_email=student.email or None,
        metadata=metadata,
        # The same request for the same enrollment state gets the same session
        # back (a double click, a retried request); a new attempt gets a new one.
        idempotency_key=_idempotency_key(
            "checkout",
            enrollment.pk,
            enrollment.stripe_session_id or "",
            metadata,
            course.price,
            _currency(),
            course.title,
            course.description,
            success_url,
            cancel_url,
            student.email,
        ),
    )
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == Enrollment.Status.PAID:
            raise AlreadyEnrolled
        locked.stripe_session_id = session.id
        locked.save(update_fields=["stripe_session_id", "updated_at"])
    return CheckoutStart(enrollment=locked, session=session)


def payment_intent_start(*, course: Course, student: ClerkUser) -> PaymentIntentStart:
    """A PaymentIntent (Stripe Elements), its id stored on the pending enrollment."""
    enrollment = _pending_enrollment_get_or_create(course=course, student=student)
    if course.price == _ZERO:
        # Stripe refuses zero-amount PaymentIntents; a free course needs none.
        _free_enrollment_grant(enrollment)
        raise AlreadyEnrolled

    if enrollment.stripe_payment_intent_id:
        previous = _payment_intent_get_or_none(enrollment.stripe_payment_intent_id)
        if previous is not None and previous.is_succeeded:
            payment_intent_fulfill(payment_intent=previous)
            raise AlreadyEnrolled
        if previous is not None and previous.status == "processing":
            raise PaymentInProgress
        if (
            previous is not None
            and previous.is_reusable
            and previous.amount == course.price
            and previous.currency == _currency()
        ):
            return PaymentIntentStart(enrollment=enrollment, payment_intent=previous)

    metadata = _payment_metadata(enrollment=enrollment, course=course)
    payment_intent = stripe_gateway.payment_intent_create(
        amount=course.price,
        description=str(course.title),
        receipt_email=student.email or None,
        metadata=metadata,
        idempotency_key=_idempotency_key(
            "payment-intent",
            enrollment.pk,
            enrollment.stripe_payment_intent_id or "",
            metadata,
            course.price,
            _currency(),
            course.title,
            student.email,
        ),
    )
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == Enrollment.Status.PAID:
            raise AlreadyEnrolled
        locked.stripe_payment_intent_id = payment_intent.id
        locked.save(update_fields=["stripe_payment_intent_id", "updated_at"])
    return PaymentIntentStart(enrollment=locked, payment_intent=payment_intent)


# --- Granting access -----------------------------------------------------------------


def checkout_fulfill(*, session: CheckoutSession) -> Enrollment | None:
    """Grant access for a paid Checkout Session. Safe to repeat and to race.

    Returns the enrollment, or None when the session is unpaid or not ours.
    """
    enrollment, _changed = _checkout_fulfill(session)
    return enrollment


def payment_intent_fulfill(*, payment_intent: PaymentIntent) -> Enrollment | None:
    """Grant access for a succeeded PaymentIntent. Safe to repeat and to race."""
    if not payment_intent.is_succeeded:
        return None
    with transaction.atomic(savepoint=False):
        enrollment = _enrollment_for_payment_locked(
            session_id=None,
            payment_intent_id=payment_intent.id,
            metadata=payment_intent.metadata,
            amount=payment_intent.amount_received,
            email=payment_intent.receipt_email,
            name="",
        )
        if enrollment is None:
            logger.info("PaymentIntent %s is not for a course", payment_intent.id)
            return None
        _payment_record(
            enrollment,
            amount=payment_intent.amount_received,
            payment_intent_id=payment_intent.id,
            customer_id=payment_intent.customer_id,
            session_id=None,
        )
    return enrollment


def checkout_verify(*, session_id: str, clerk_user_id: str) -> PaymentVerification:
    """The student's return from Checkout: ask Stripe, fulfil if paid (no webhook)."""
    try:
        session = stripe_gateway.checkout_session_get(session_id)
    except stripe_gateway.PaymentObjectNotFound as exc:
        raise PaymentNotFound from exc
    owner = session.metadata.get("clerk_user_id") or session.client_reference_id
    if owner != clerk_user_id:
        raise PaymentNotFound
    enrollment = checkout_fulfill(session=session)
    if enrollment is not None and enrollment.status == Enrollment.Status.PAID:
        return PaymentVerification(
            status="paid", payment_status=session.payment_status, enrollment=enrollment
        )
    if enrollment is not None and enrollment.status == Enrollment.Status.REFUNDED:
        return PaymentVerification(
            status="refunded", payment_status=session.payment_status, enrollment=None
        )
    return PaymentVerification(
        status="pending", payment_status=session.payment_status, enrollment=None
    )


def payments_reconcile(*, since: datetime.datetime) -> list[Enrollment]:
    """Fulfil every paid Checkout Session since a time that we missed; returns those."""
    repaired = []
    created_since = int(since.timestamp())
    for session in stripe_gateway.checkout_session_list_completed(
        created_since=created_since
    ):
        if not session.metadata.get("clerk_user_id"):
            continue  # not a course purchase
        enrollment, changed = _checkout_fulfill(session)
        if changed and enrollment is not None:
            logger.warning(
                "Reconcile: enrollment %s paid by session %s", enrollment.pk, session.id
            )
            repaired.append(enrollment)
    return repaired


# --- Failures, expiry, refunds --------------------------------------------------------


def payment_failed(
    *, checkout_session_id: str | None = None, payment_intent_id: str | None = None
) -> Enrollment | None:
    """A failed payment; only the pending enrollment of that very payment changes."""
    with transaction.atomic(savepoint=False):
        locked = Enrollment.objects.select_for_update()
        if checkout_session_id:
            enrollment = locked.filter(stripe_session_id=checkout_session_id).first()
        elif payment_intent_id:
            enrollment = locked.filter(
                stripe_payment_intent_id=payment_intent_id
            ).first()
        else:
            raise ValueError("checkout_session_id or payment_intent_id is required")
        if enrollment is not None:
            enrollment.mark_as_failed()
    return enrollment


def checkout_expired(*, session: CheckoutSession) -> Enrollment | None:
    """An abandoned session; never touches a paid enrollment or a newer session."""
    with transaction.atomic(savepoint=False):
        enrollment = (
            Enrollment.objects.select_for_update()
            .filter(stripe_session_id=session.id)
            .first()
        )
        if enrollment is not None:
            enrollment.mark_as_expired()
    return enrollment


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


# --- Webhook events -------------------------------------------------------------------


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
    _checkout_fulfill(stripe_gateway.checkout_session_from_dict(event.data_object))


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


# --- Internals ------------------------------------------------------------------------


def _checkout_fulfill(session: CheckoutSession) -> tuple[Enrollment | None, bool]:
    """The single fulfilment of a Checkout Session: (enrollment, whether it changed)."""
    if not session.is_paid:
        return None, False
    with transaction.atomic(savepoint=False):
        enrollment = _enrollment_for_payment_locked(
            session_id=session.id,
            payment_intent_id=None,
            metadata=session.metadata,
            amount=session.amount_total,
            email=session.customer_email,
            name=session.customer_name,
        )
        if enrollment is None:
            logger.warning("Paid session %s matches no course purchase", session.id)
            return None, False
        changed = _payment_record(
            enrollment,
            amount=session.amount_total,
            payment_intent_id=session.payment_intent_id,
            customer_id=session.customer_id,
            session_id=session.id,
        )
    return enrollment, changed


def _payment_record(
    enrollment: Enrollment,
    *,
    amount: Decimal | None,
    payment_intent_id: str | None,
    customer_id: str | None,
    session_id: str | None,
) -> bool:
    """Mark a locked enrollment paid with what Stripe charged; False if no change."""
    if enrollment.status == Enrollment.Status.REFUNDED:
        # A replayed or reconciled payment must not give back revoked access.
        logger.info("Enrollment %s was refunded: payment not re-applied", enrollment.pk)
        return False
    if enrollment.status == Enrollment.Status.PAID:
        is_same_payment = (
            session_id and enrollment.stripe_session_id == session_id
        ) or (
            payment_intent_id
            and enrollment.stripe_payment_intent_id == payment_intent_id
        )
        if not is_same_payment:
            logger.warning(
                "Enrollment %s already paid; second payment (session %s, "
                "PaymentIntent %s) needs a refund",
                enrollment.pk,
                session_id,
                payment_intent_id,
            )
        return False
    if session_id and enrollment.stripe_session_id != session_id:
        # Paid through an older session than the one stored (two open tabs).
        enrollment.stripe_session_id = session_id
        enrollment.save(update_fields=["stripe_session_id"])
    return enrollment.mark_as_paid(
        price_paid=amount,
        payment_intent_id=payment_intent_id,
        customer_id=customer_id,
    )


def _enrollment_for_payment_locked(
    *,
    session_id: str | None,
    payment_intent_id: str | None,
    metadata: Mapping[str, str],
    amount: Decimal | None,
    email: str,
    name: str,
) -> Enrollment | None:
    """The enrollment a payment is for, row-locked; created from metadata if missing."""
    locked = Enrollment.objects.select_for_update()
    if session_id:
        enrollment = locked.filter(stripe_session_id=session_id).first()
        if enrollment is not None:
            return enrollment
    if payment_intent_id:
        enrollment = locked.filter(stripe_payment_intent_id=payment_intent_id).first()
        if enrollment is not None:
            return enrollment
    course_id = str(metadata.get("course_id", ""))
    clerk_user_id = metadata.get("clerk_user_id", "")
    if not course_id.isdigit() or not clerk_user_id:
        return None
    enrollment = locked.filter(course_id=course_id, clerk_user_id=clerk_user_id).first()
    if enrollment is not None:
        return enrollment
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        logger.error("Payment for unknown course %s", course_id)
        return None
    # The pending row was never written or is gone: the payment says who bought what.
    try:
        with transaction.atomic():
            return Enrollment.objects.create(
                course=course,
                clerk_user_id=clerk_user_id,
                student_email=email,
                student_name=name[:200],
                price_paid=amount if amount is not None else course.price,
            )
    except IntegrityError:
        # Written concurrently by checkout_start or another delivery.
        return locked.get(course_id=course_id, clerk_user_id=clerk_user_id)


def _pending_enrollment_get_or_create(
    *, course: Course, student: ClerkUser
) -> Enrollment:
    enrollment, _created = Enrollment.objects.get_or_create(
        course=course,
        clerk_user_id=student.clerk_user_id,
        defaults={
            "student_email": student.email,
            "student_name": student.full_name[:200],
            "price_paid": course.price,
        },
    )
    if enrollment.status == Enrollment.Status.PAID:
        raise AlreadyEnrolled
    if enrollment.status == Enrollment.Status.REFUNDED:
        raise EnrollmentRefunded
    enrollment.reopen()  # a failed or expired attempt becomes pending again
    return enrollment


def _free_enrollment_grant(enrollment: Enrollment) -> Enrollment:
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        locked.mark_as_paid(price_paid=_ZERO)
    return locked


def _checkout_session_reusable(
    *, enrollment: Enrollment, amount: Decimal, success_url: str, cancel_url: str
) -> CheckoutSession | None:
    """The enrollment's last session if it is still open for the same purchase.

    Handing it out again rather than creating another keeps one payable
    session per enrollment. A session found paid is fulfilled on the spot; one
    whose payment is still clearing blocks a new attempt.
    """
    try:
        previous = stripe_gateway.checkout_session_get(enrollment.stripe_session_id)
    except stripe_gateway.PaymentObjectNotFound:
        return None
    if previous.status == "complete":
        if previous.is_paid:
            _checkout_fulfill(previous)
            raise AlreadyEnrolled
        # Completed but unpaid: a bank debit is clearing; a second session
        # could be paid too.
        raise PaymentInProgress
    is_same_purchase = (
        previous.status == "open"
        and previous.amount_total == amount
        and previous.currency == _currency()
        and previous.success_url == success_url
        and previous.cancel_url == cancel_url
    )
    return previous if is_same_purchase else None


def _payment_intent_get_or_none(payment_intent_id: str) -> PaymentIntent | None:
    try:
        return stripe_gateway.payment_intent_get(payment_intent_id)
    except stripe_gateway.PaymentObjectNotFound:
        return None


def _payment_metadata(*, enrollment: Enrollment, course: Course) -> dict[str, str]:
    return {
        "course_id": str(course.pk),
        "course_slug": course.slug,
        "clerk_user_id": enrollment.clerk_user_id,
        "enrollment_id": str(enrollment.pk),
    }


def _idempotency_key(kind: str, enrollment_id: int, *parts: object) -> str:
    """Same enrollment, same previous attempt and same parameters: same key.

    Stripe then answers a repeated request (a double click, a retry after a
    timeout) with the object it already created, and refuses nothing, since
    any change of parameters also changes the key.
    """
    text = "|".join(str(part) for part in (enrollment_id, *parts))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{kind}-{enrollment_id}-{digest[:40]}"


def _currency() -> str:
    return settings.STRIPE_CURRENCY
