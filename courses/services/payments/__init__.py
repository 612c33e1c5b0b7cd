"""Payments: starting a checkout, granting access once per payment, orders, refunds,
disputes, Stripe Customers, events and reconciliation.

The use cases live in one module each; the names the views, the admin and the
commands call are importable from here.
"""

from courses.services.payments.checkout import (
    CheckoutStart,
    PaymentVerification,
    checkout_start,
    checkout_verify,
)
from courses.services.payments.customers import (
    CustomerReport,
    customer_erase_after_commit,
    customer_for_student,
    customer_sync_after_commit,
    customers_reconcile,
)
from courses.services.payments.disputes import dispute_recorded
from courses.services.payments.errors import (
    AlreadyEnrolled,
    EnrollmentRefunded,
    NotRefundable,
    PaymentDisputed,
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
)
from courses.services.payments.intents import PaymentIntentStart, payment_intent_start
from courses.services.payments.reconcile import (
    AdjustmentReport,
    payment_adjustments_reconcile,
    payments_reconcile,
)
from courses.services.payments.refunds import (
    duplicate_payment_refund,
    enrollment_refund,
    order_refund,
    payment_reviews_refund_pending,
    refund_recorded,
)

__all__ = [
    "HANDLED_EVENT_TYPES",
    "AdjustmentReport",
    "AlreadyEnrolled",
    "CheckoutStart",
    "CustomerReport",
    "EnrollmentRefunded",
    "EventOutcome",
    "NotRefundable",
    "PaymentDisputed",
    "PaymentInProgress",
    "PaymentIntentStart",
    "PaymentNotFound",
    "PaymentVerification",
    "checkout_expired",
    "checkout_fulfill",
    "checkout_start",
    "checkout_verify",
    "customer_erase_after_commit",
    "customer_for_student",
    "customer_sync_after_commit",
    "customers_reconcile",
    "dispute_recorded",
    "duplicate_payment_refund",
    "enrollment_refund",
    "order_refund",
    "payment_adjustments_reconcile",
    "payment_failed",
    "payment_intent_fulfill",
    "payment_intent_start",
    "payment_reviews_refund_pending",
    "payments_reconcile",
    "refund_recorded",
    "stripe_event_process",
]
