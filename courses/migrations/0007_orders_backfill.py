"""Orders for the payments made before orders existed.

What the enrollments and the payments kept for review say is kept: the Stripe
ids, the amount charged (`price_paid`), the payment date, full refunds. What
was never stored cannot be recovered here and is left blank or zero:

- the charge id and its receipt URL, and the invoice URL (the next time
  Stripe tells about the payment, e.g. `reconcile_payments` within its window,
  they are filled in);
- the subtotal and the discount: no session accepted promotion codes, so the
  subtotal is what was charged and the discount 0;
- partial refunds and disputes, which were not recorded (`reconcile_payments`
  finds those made within its window);
- when a pending, failed or expired attempt was made: the enrollment's date
  stands for it, and its status for each of its attempts.

A paid or refunded enrollment gets one paid (or refunded) order with both the
session and the PaymentIntent it holds; a pending, failed or expired one gets
an order per attempt it holds (its session, its PaymentIntent). Free courses
and enrollments marked paid by hand never reached Stripe: no order. A second
payment refunded automatically (a PaymentReview) gets its own order; payments
refused for their currency or mode stay in the reviews only.
"""

from django.conf import settings
from django.db import migrations

_BATCH = 500


def orders_backfill(apps, schema_editor):
    Enrollment = apps.get_model("courses", "Enrollment")
    Order = apps.get_model("courses", "Order")
    PaymentReview = apps.get_model("courses", "PaymentReview")
    currency = settings.STRIPE_CURRENCY.lower()
    sessions = set(
        Order.objects.exclude(stripe_checkout_session_id=None).values_list(
            "stripe_checkout_session_id", flat=True
        )
    )
    payment_intents = set(
        Order.objects.exclude(stripe_payment_intent_id=None).values_list(
            "stripe_payment_intent_id", flat=True
        )
    )
    batch = []

    def add(**fields):
        session_id = fields.get("stripe_checkout_session_id")
        payment_intent_id = fields.get("stripe_payment_intent_id")
        if session_id in sessions:
            fields["stripe_checkout_session_id"] = session_id = None
        if payment_intent_id in payment_intents:
            fields["stripe_payment_intent_id"] = payment_intent_id = None
        if session_id is None and payment_intent_id is None:
            return
        sessions.add(session_id)
        payment_intents.add(payment_intent_id)
        amount = fields.pop("amount")
        batch.append(
            Order(
                amount_subtotal=amount,
                amount_total=amount,
                currency=fields.pop("currency", None) or currency,
                **fields,
            )
        )
        if len(batch) >= _BATCH:
            Order.objects.bulk_create(batch)
            batch.clear()

    enrollments = (
        Enrollment.objects.exclude(
            stripe_session_id__isnull=True, stripe_payment_intent_id__isnull=True
        )
        .order_by("pk")
        .iterator(chunk_size=_BATCH)
    )
    for enrollment in enrollments:
        common = {
            "enrollment_id": enrollment.pk,
            "amount": enrollment.price_paid,
            "created_at": enrollment.enrolled_at,
        }
        if enrollment.status in ("paid", "refunded"):
            is_refunded = enrollment.status == "refunded"
            add(
                **common,
                status=enrollment.status,
                amount_refunded=enrollment.price_paid if is_refunded else 0,
                paid_at=enrollment.paid_at or enrollment.enrolled_at,
                stripe_checkout_session_id=enrollment.stripe_session_id,
                stripe_payment_intent_id=enrollment.stripe_payment_intent_id,
            )
            continue
        for session_id, payment_intent_id in (
            (enrollment.stripe_session_id, None),
            (None, enrollment.stripe_payment_intent_id),
        ):
            add(
                **common,
                status=enrollment.status,
                stripe_checkout_session_id=session_id,
                stripe_payment_intent_id=payment_intent_id,
            )

    second_payments = (
        PaymentReview.objects.filter(kind="duplicate", enrollment__isnull=False)
        .exclude(stripe_payment_intent_id__isnull=True)
        .order_by("pk")
    )
    for review in second_payments:
        is_refunded = review.status == "refunded"
        amount = review.amount or 0
        add(
            enrollment_id=review.enrollment_id,
            amount=amount,
            currency=review.currency,
            created_at=review.created_at,
            status="refunded" if is_refunded else "paid",
            amount_refunded=amount if is_refunded else 0,
            paid_at=review.created_at,
            stripe_checkout_session_id=review.stripe_session_id,
            stripe_payment_intent_id=review.stripe_payment_intent_id,
        )
    Order.objects.bulk_create(batch)


def orders_remove(apps, schema_editor):
    apps.get_model("courses", "Order").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0006_orders"),
    ]

    operations = [
        migrations.RunPython(orders_backfill, orders_remove),
    ]
