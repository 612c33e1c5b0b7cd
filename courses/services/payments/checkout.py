"""Starting a Stripe Checkout Session for a pending enrollment, and the student's
return from Checkout.

The pending row is written before Stripe is called, and Stripe calls happen
outside row locks; the attempt's pending order is written as soon as Stripe
has answered. Every session names the student's Stripe Customer and, with
STRIPE_ALLOW_PROMOTION_CODES, accepts promotion codes. An enrollment has at
most one payable Checkout Session: a new one is created only after the
previous one is expired at Stripe, and each expires on its own after
STRIPE_CHECKOUT_EXPIRES_MINUTES.
"""

import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Course, Enrollment, Order
from courses.services.payments.attempts import (
    ZERO,
    attempt_key,
    currency,
    free_enrollment_grant,
    payment_metadata,
    pending_enrollment_get_or_create,
    with_customer,
)
from courses.services.payments.errors import (
    AlreadyEnrolled,
    PaymentInProgress,
    PaymentNotFound,
)
from courses.services.payments.fulfilment import checkout_fulfill
from courses.services.payments.orders import (
    order_mark_unpaid_outcome,
    order_pending_record,
    order_with_enrollment_locked,
)
from courses.stripe_gateway import CheckoutSession

logger = logging.getLogger(__name__)

# Stripe's bounds for expires_at, measured from the session's creation.
_STRIPE_EXPIRES_MIN_SECONDS = 30 * 60
_STRIPE_EXPIRES_MAX_SECONDS = 24 * 3600
# expires_at is rounded down to this step. The idempotency key includes it, and
# Stripe refuses a key reused with other parameters: the same request repeated
# within the step (a double click, a retry after a timeout) sends the very same
# parameters and gets the same session back.
_EXPIRES_AT_STEP_SECONDS = 300
# Room for the difference between this server's clock and Stripe's.
_EXPIRES_AT_MARGIN_SECONDS = 60
# An open session closer than this to its expiry is not handed out again.
_REUSE_MIN_REMAINING_SECONDS = 10 * 60


@dataclass(frozen=True)
class CheckoutStart:
    enrollment: Enrollment
    # None for a free course: the student is enrolled at once, without Stripe.
    session: CheckoutSession | None


@dataclass(frozen=True)
class PaymentVerification:
    status: str  # "paid", "pending", "refunded" or "disputed"
    payment_status: str  # Stripe's payment_status of the session
    enrollment: Enrollment | None


def checkout_start(
    *, course: Course, student: ClerkUser, success_url: str, cancel_url: str
) -> CheckoutStart:
    """A Stripe Checkout Session for a pending enrollment written beforehand.

    The pending row exists before Stripe does, so a webhook that comes back
    faster than this function finds it. A free course is enrolled at once.
    """
    enrollment = pending_enrollment_get_or_create(course=course, student=student)
    if course.price == ZERO:
        return CheckoutStart(enrollment=free_enrollment_grant(enrollment), session=None)

    if enrollment.stripe_session_id:
        reusable = _checkout_session_reuse_or_expire(
            enrollment=enrollment,
            amount=course.price,
            success_url=success_url,
            cancel_url=cancel_url,
        )
        if reusable is not None:
            return CheckoutStart(enrollment=enrollment, session=reusable)

    metadata = payment_metadata(enrollment=enrollment, course=course)
    expires_at = _checkout_session_expires_at(now=time.time())
    allow_promotion_codes = settings.STRIPE_ALLOW_PROMOTION_CODES
    invoice_creation = settings.STRIPE_INVOICE_CREATION

    def create(customer_id: str) -> CheckoutSession:
        return stripe_gateway.checkout_session_create(
            amount=course.price,
            product_name=course.title,
            product_description=course.description,
            success_url=success_url,
            cancel_url=cancel_url,
            client_reference_id=student.clerk_user_id,
            customer_id=customer_id,
            metadata=metadata,
            expires_at=expires_at,
            allow_promotion_codes=allow_promotion_codes,
            invoice_creation=invoice_creation,
            # The same request for the same enrollment state gets the same
            # session back (a double click, a retried request); a new attempt
            # gets a new one.
            idempotency_key=attempt_key(
                "checkout",
                enrollment.pk,
                enrollment.stripe_session_id or "",
                metadata,
                course.price,
                currency(),
                course.title,
                course.description,
                success_url,
                cancel_url,
                customer_id,
                allow_promotion_codes,
                invoice_creation,
                expires_at,
            ),
        )

    session = with_customer(student, create)
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == Enrollment.Status.PAID:
            raise AlreadyEnrolled
        displaced = locked.stripe_session_id
        if displaced in (enrollment.stripe_session_id, session.id):
            displaced = None
        locked.stripe_session_id = session.id
        locked.save(update_fields=["stripe_session_id", "updated_at"])
        # The previous session's expiry event may have come in meanwhile.
        locked.reopen()
        order_pending_record(
            enrollment=locked,
            amount=course.price,
            currency=currency(),
            session_id=session.id,
        )
    if displaced is not None:
        # A concurrent attempt stored its own session after this one read the
        # row: it is replaced, so it must not stay payable either.
        _checkout_session_expire_quietly(displaced)
    return CheckoutStart(enrollment=locked, session=session)


def checkout_verify(*, session_id: str, clerk_user_id: str) -> PaymentVerification:
    """The student's return from Checkout: ask Stripe, fulfil if paid (no webhook)."""
    try:
        # With its charge, promotion code and invoice: fulfilment reads nothing more.
        session = stripe_gateway.checkout_session_get(session_id, with_payment=True)
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
    if enrollment is not None and enrollment.status in (
        Enrollment.Status.REFUNDED,
        Enrollment.Status.DISPUTED,
    ):
        return PaymentVerification(
            status=enrollment.status,
            payment_status=session.payment_status,
            enrollment=None,
        )
    return PaymentVerification(
        status="pending", payment_status=session.payment_status, enrollment=None
    )


def _checkout_session_reuse_or_expire(
    *, enrollment: Enrollment, amount: Decimal, success_url: str, cancel_url: str
) -> CheckoutSession | None:
    """The enrollment's last session if it is still open for the same purchase;
    otherwise None, once that session can no longer be paid.

    Handing it out again rather than creating another keeps one payable
    session per enrollment; an open one for another purchase (another price,
    other redirect URLs) is expired at Stripe before a new one exists. A
    session found paid is fulfilled on the spot; one whose payment is still
    clearing blocks a new attempt.
    """
    try:
        previous = stripe_gateway.checkout_session_get(enrollment.stripe_session_id)
    except stripe_gateway.PaymentObjectNotFound:
        return None
    _refuse_if_completed(previous)
    if previous.status != "open":
        return None
    # The subtotal: the total of an open session may already hold a discount
    # the student is entering.
    previous_amount = (
        previous.amount_subtotal
        if previous.amount_subtotal is not None
        else previous.amount_total
    )
    is_same_purchase = (
        previous_amount == amount
        and previous.currency == currency()
        and previous.success_url == success_url
        and previous.cancel_url == cancel_url
        and (
            previous.expires_at is None
            or previous.expires_at - time.time() >= _REUSE_MIN_REMAINING_SECONDS
        )
    )
    if is_same_purchase:
        return previous
    try:
        stripe_gateway.checkout_session_expire(previous.id)
    except stripe_gateway.PaymentObjectNotFound:
        return None
    except stripe_gateway.PaymentProviderError:
        # Stripe refuses to expire a session that is no longer open: it may
        # have been paid since it was read. Only a closed one lets us go on.
        latest = stripe_gateway.checkout_session_get(previous.id)
        _refuse_if_completed(latest)
        if latest.status == "open":
            raise
    _order_expired(previous.id)
    logger.info(
        "Checkout Session %s of enrollment %s expired for a new one",
        previous.id,
        enrollment.pk,
    )
    return None


def _refuse_if_completed(session: CheckoutSession) -> None:
    if session.status != "complete":
        return
    if session.is_paid:
        # Read again with its charge: the order gets its receipt at once.
        checkout_fulfill(
            session=stripe_gateway.checkout_session_get(session.id, with_payment=True)
        )
        raise AlreadyEnrolled
    # Completed but unpaid: a bank debit is clearing; a second session could
    # be paid too.
    raise PaymentInProgress


def _checkout_session_expire_quietly(session_id: str) -> None:
    try:
        stripe_gateway.checkout_session_expire(session_id)
    except (stripe_gateway.PaymentProviderError, stripe_gateway.PaymentsNotConfigured):
        # Already closed (paid or expired), or Stripe unreachable: if it is
        # paid after all, the second payment is refunded when it is reported.
        logger.warning("Replaced Checkout Session %s could not be expired", session_id)
        return
    _order_expired(session_id)


def _order_expired(session_id: str) -> None:
    """The order of a session we expired at Stripe (its event says the same)."""
    with transaction.atomic():
        found = order_with_enrollment_locked(
            session_id=session_id, payment_intent_id=None
        )
        if found is not None:
            order_mark_unpaid_outcome(found[0], Order.Status.EXPIRED)


def _checkout_session_expires_at(*, now: float) -> int:
    """now + STRIPE_CHECKOUT_EXPIRES_MINUTES, rounded down to the step, and always
    inside Stripe's 30 minutes to 24 hours, whatever the rounding and the clocks."""
    lifetime = settings.STRIPE_CHECKOUT_EXPIRES_MINUTES * 60
    lifetime = max(
        lifetime,
        _STRIPE_EXPIRES_MIN_SECONDS
        + _EXPIRES_AT_STEP_SECONDS
        + _EXPIRES_AT_MARGIN_SECONDS,
    )
    lifetime = min(lifetime, _STRIPE_EXPIRES_MAX_SECONDS - _EXPIRES_AT_MARGIN_SECONDS)
    target = int(now) + lifetime
    return target - target % _EXPIRES_AT_STEP_SECONDS
