"""What Stripe says was paid, read before any row is locked.

A Checkout Session or a PaymentIntent becomes a `Payment`: the amounts, the
promotion code, the invoice and, when the session or PaymentIntent was read
with it (verify_payment, reconcile), the charge as it is now (its receipt,
what was refunded of it, and its dispute), so that a refund or a dispute that
happened before the payment is recorded is recorded with it. A webhook's
payload carries no charge: the charge's own events bring it
(`charge.succeeded`, `charge.refunded`, ...), so recording a payment from a
webhook asks Stripe nothing unless a promotion code or an invoice needs
reading. The reads are network calls: made here, never under a row lock.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from courses import stripe_gateway
from courses.models import Order
from courses.stripe_gateway import CheckoutSession, PaymentIntent

_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Payment:
    """What Stripe says was paid, from a Checkout Session or a PaymentIntent."""

    session_id: str | None
    payment_intent_id: str | None
    customer_id: str | None
    amount: Decimal | None  # what was charged
    currency: str
    is_livemode: bool
    metadata: Mapping[str, str]
    email: str
    name: str
    amount_subtotal: Decimal | None = None  # before discounts
    amount_discount: Decimal = _ZERO
    promotion_code: str = ""
    hosted_invoice_url: str = ""
    charge: stripe_gateway.Charge | None = None
    dispute: stripe_gateway.Dispute | None = None

    @property
    def label(self) -> str:
        return self.payment_intent_id or self.session_id or "?"


def payment_of_session(session: CheckoutSession) -> Payment:
    """A paid session as a Payment, with the promotion code's text and the
    invoice's page read from Stripe when the session names them without them
    (an event's payload); none of this when it was read with them."""
    promotion_code = session.promotion_code
    if session.promotion_code_id and not promotion_code:
        # Stripe did not expand it: ask for the code itself.
        promotion_code = stripe_gateway.promotion_code_get(
            session.promotion_code_id
        ).code
    hosted_invoice_url = session.hosted_invoice_url
    if session.invoice_id and not hosted_invoice_url:
        hosted_invoice_url = stripe_gateway.invoice_get(
            session.invoice_id
        ).hosted_invoice_url
    return Payment(
        session_id=session.id,
        payment_intent_id=session.payment_intent_id,
        customer_id=session.customer_id,
        amount=session.amount_total,
        currency=session.currency,
        is_livemode=session.is_livemode,
        metadata=session.metadata,
        email=session.customer_email,
        name=session.customer_name,
        amount_subtotal=session.amount_subtotal,
        amount_discount=session.amount_discount,
        promotion_code=promotion_code[:255],
        hosted_invoice_url=hosted_invoice_url[:2000],
        charge=session.charge,
        dispute=_dispute_of(session.charge),
    )


def payment_of_payment_intent(payment_intent: PaymentIntent) -> Payment:
    """A succeeded PaymentIntent as a Payment, with its charge when it was read
    with it."""
    charge = payment_intent.charge
    return Payment(
        session_id=None,
        payment_intent_id=payment_intent.id,
        customer_id=payment_intent.customer_id,
        amount=payment_intent.amount_received,
        currency=payment_intent.currency,
        is_livemode=payment_intent.is_livemode,
        metadata=payment_intent.metadata,
        email=payment_intent.receipt_email,
        name="",
        amount_subtotal=payment_intent.amount_received,
        charge=charge,
        dispute=_dispute_of(charge),
    )


def session_id_for_payment_intent(payment_intent_id: str | None) -> str | None:
    """For a PaymentIntent no order knows yet (its Checkout Session was paid, but
    the payment is not recorded yet): the id of its session, from Stripe.
    None when an order knows it, or it comes from no session."""
    if not payment_intent_id:
        return None
    if Order.objects.filter(stripe_payment_intent_id=payment_intent_id).exists():
        return None
    session = stripe_gateway.checkout_session_for_payment_intent(payment_intent_id)
    return session.id if session is not None else None


def _dispute_of(charge: stripe_gateway.Charge | None) -> stripe_gateway.Dispute | None:
    """The charge's dispute, read only when the charge says it has one."""
    if charge is None or not charge.is_disputed:
        return None
    return next(stripe_gateway.dispute_list(charge_id=charge.id), None)
