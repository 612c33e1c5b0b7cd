"""Payments: starting a checkout, granting access once per payment, refunds, events.

The use cases live in one module each; the names the views, the admin and the
commands call are importable from here.
"""

from courses.services.payments.checkout import (
    CheckoutStart,
    PaymentIntentStart,
    PaymentVerification,
    checkout_start,
    checkout_verify,
    payment_intent_start,
)
from courses.services.payments.errors import (
    AlreadyEnrolled,
    EnrollmentRefunded,
    NotRefundable,
    PaymentInProgress,
    PaymentNotFound,
)
from courses.services.payments.events import (
    HANDLED_EVENT_TYPES,
    EventOutcome,
    stripe_event_process,
)
from courses.services.payments.fulfilment import (
    checkout_expired,
    checkout_fulfill,
    payment_failed,
    payment_intent_fulfill,
    payments_reconcile,
)
from courses.services.payments.refunds import (
    duplicate_payment_refund,
    enrollment_refund,
    payment_reviews_refund_pending,
    refund_recorded,
)

__all__ = [
    "HANDLED_EVENT_TYPES",
    "AlreadyEnrolled",
    "CheckoutStart",
    "EnrollmentRefunded",
    "EventOutcome",
    "NotRefundable",
    "PaymentInProgress",
    "PaymentIntentStart",
    "PaymentNotFound",
    "PaymentVerification",
    "checkout_expired",
    "checkout_fulfill",
    "checkout_start",
    "checkout_verify",
    "duplicate_payment_refund",
    "enrollment_refund",
    "payment_failed",
    "payment_intent_fulfill",
    "payment_intent_start",
    "payment_reviews_refund_pending",
    "payments_reconcile",
    "refund_recorded",
    "stripe_event_process",
]
