"""The only package that talks to Stripe: small frozen types in, small frozen types
out, one module per kind of Stripe object.

Settings are read when a function runs, so tests and emulators can point
STRIPE_API_BASE elsewhere. Money crosses this boundary as Decimal and becomes
integer cents only here. The rest of the code imports this package and calls
`stripe_gateway.<name>`.
"""

from courses.stripe_gateway.base import (
    InvalidAmount,
    PaymentObjectNotFound,
    PaymentProviderError,
    PaymentsNotConfigured,
    amount_to_cents,
    cents_to_amount,
    is_configured,
    is_live_key,
)
from courses.stripe_gateway.checkout import (
    CheckoutSession,
    Invoice,
    PromotionCode,
    checkout_session_create,
    checkout_session_expire,
    checkout_session_for_payment_intent,
    checkout_session_from_dict,
    checkout_session_get,
    checkout_session_list_completed,
    invoice_get,
    promotion_code_get,
)
from courses.stripe_gateway.customers import (
    Customer,
    customer_create,
    customer_delete,
    customer_update_email,
)
from courses.stripe_gateway.payments import (
    Charge,
    Dispute,
    PaymentIntent,
    Refund,
    charge_from_dict,
    dispute_from_dict,
    dispute_get,
    dispute_list,
    payment_intent_create,
    payment_intent_from_dict,
    payment_intent_get,
    refund_create,
    refund_list_charges,
)
from courses.stripe_gateway.webhooks import (
    WEBHOOK_TOLERANCE_SECONDS,
    InvalidWebhook,
    WebhookEvent,
    webhook_event_parse,
)

__all__ = [
    "WEBHOOK_TOLERANCE_SECONDS",
    "Charge",
    "CheckoutSession",
    "Customer",
    "Dispute",
    "InvalidAmount",
    "InvalidWebhook",
    "Invoice",
    "PaymentIntent",
    "PaymentObjectNotFound",
    "PaymentProviderError",
    "PaymentsNotConfigured",
    "PromotionCode",
    "Refund",
    "WebhookEvent",
    "amount_to_cents",
    "cents_to_amount",
    "charge_from_dict",
    "checkout_session_create",
    "checkout_session_expire",
    "checkout_session_for_payment_intent",
    "checkout_session_from_dict",
    "checkout_session_get",
    "checkout_session_list_completed",
    "customer_create",
    "customer_delete",
    "customer_update_email",
    "dispute_from_dict",
    "dispute_get",
    "dispute_list",
    "invoice_get",
    "is_configured",
    "is_live_key",
    "payment_intent_create",
    "payment_intent_from_dict",
    "payment_intent_get",
    "promotion_code_get",
    "refund_create",
    "refund_list_charges",
    "webhook_event_parse",
]
