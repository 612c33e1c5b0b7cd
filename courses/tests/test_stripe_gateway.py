import time
from decimal import Decimal

import pytest

from courses import stripe_gateway
from courses.tests.fakes.stripe import stripe_signature


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        (Decimal("49.99"), 4999),
        (Decimal("0.29"), 29),
        (Decimal("19.9"), 1990),
        (Decimal("1000"), 100000),
        (Decimal("0.00"), 0),
        (Decimal("123456.78"), 12345678),
    ],
)
def test_amount_to_cents_is_exact(amount, cents):
    assert stripe_gateway.amount_to_cents(amount) == cents


@pytest.mark.parametrize(
    "amount", [Decimal("49.999"), Decimal("-1.00"), Decimal("NaN"), 49.99, 4999]
)
def test_amount_to_cents_refuses_sub_cent_negative_and_non_decimal(amount):
    with pytest.raises(stripe_gateway.InvalidAmount):
        stripe_gateway.amount_to_cents(amount)


# A fixed value, so that repeated creations send the same parameters.
EXPIRES_AT = int(time.time()) + 3600


def _create_session(**overrides):
    arguments = {
        "amount": Decimal("49.99"),
        "product_name": "Python",
        "product_description": "All about Python.",
        "success_url": "http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://localhost:3000/cancel",
        "client_reference_id": "user_1",
        "customer_email": "a@example.com",
        "metadata": {"course_id": "1", "clerk_user_id": "user_1"},
        "expires_at": EXPIRES_AT,
        "idempotency_key": "checkout-1-abc",
    }
    return stripe_gateway.checkout_session_create(**{**arguments, **overrides})


def test_checkout_session_create_sends_price_data_in_cents_with_the_key(fake_stripe):
    session = _create_session()

    (request,) = fake_stripe.requests_to("/v1/checkout/sessions", "POST")
    item = request.params["line_items"][0]
    assert request.idempotency_key == "checkout-1-abc"
    assert request.authorization == "Bearer sk_test_fake"
    assert request.params["mode"] == "payment"
    assert item["quantity"] == "1"
    assert item["price_data"] == {
        "currency": "cad",
        "unit_amount": "4999",
        "product_data": {"name": "Python", "description": "All about Python."},
    }
    assert request.params["metadata"] == {"course_id": "1", "clerk_user_id": "user_1"}
    assert session.amount_total == Decimal("49.99")
    assert session.url.startswith(fake_stripe.base_url)
    assert not session.is_paid


def test_checkout_session_create_uses_the_configured_currency(fake_stripe, settings):
    settings.STRIPE_CURRENCY = "eur"

    session = _create_session()

    assert session.currency == "eur"


def test_the_same_idempotency_key_returns_the_same_session(fake_stripe):
    first = _create_session()
    second = _create_session()

    assert first.id == second.id
    assert len(fake_stripe.sessions) == 1


def test_checkout_session_get_returns_our_frozen_type(fake_stripe):
    created = _create_session()
    fake_stripe.session_pay(created.id, customer_email="paid@example.com")

    session = stripe_gateway.checkout_session_get(created.id)

    assert session.is_paid
    assert session.payment_intent_id.startswith("pi_")
    assert session.customer_id.startswith("cus_")
    assert session.customer_email == "paid@example.com"
    with pytest.raises(AttributeError):
        session.status = "open"


def test_unknown_object_is_payment_object_not_found(fake_stripe):
    with pytest.raises(stripe_gateway.PaymentObjectNotFound):
        stripe_gateway.checkout_session_get("cs_test_missing")


def test_stripe_error_becomes_payment_provider_error(fake_stripe):
    fake_stripe.fail_with(500)

    with pytest.raises(stripe_gateway.PaymentProviderError):
        _create_session()


def test_unreachable_stripe_becomes_payment_provider_error(fake_stripe):
    fake_stripe.stop()

    with pytest.raises(stripe_gateway.PaymentProviderError):
        stripe_gateway.checkout_session_get("cs_test_any")


def test_missing_secret_key_is_payments_not_configured(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(stripe_gateway.PaymentsNotConfigured):
        _create_session()

    assert fake_stripe.requests == []


def test_network_retry_reuses_the_same_idempotency_key(fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    fake_stripe.fail_with(500, times=1)

    session = _create_session()

    first, second = fake_stripe.requests_to("/v1/checkout/sessions", "POST")
    assert first.idempotency_key == second.idempotency_key == "checkout-1-abc"
    assert session.id == fake_stripe.sessions[0]["id"]


def test_payment_intent_create_and_get(fake_stripe):
    created = stripe_gateway.payment_intent_create(
        amount=Decimal("99.99"),
        description="Django",
        receipt_email="a@example.com",
        metadata={"course_id": "2", "clerk_user_id": "user_1"},
        idempotency_key="payment-intent-1-abc",
    )
    fake_stripe.payment_intent_succeed(created.id)

    fetched = stripe_gateway.payment_intent_get(created.id)

    (request,) = fake_stripe.requests_to("/v1/payment_intents", "POST")
    assert request.params["amount"] == "9999"
    assert request.idempotency_key == "payment-intent-1-abc"
    assert created.client_secret.startswith(created.id)
    assert created.is_reusable
    assert fetched.is_succeeded
    assert fetched.amount_received == Decimal("99.99")


def test_refund_create_refunds_the_payment_intent(fake_stripe):
    session = _create_session()
    paid = fake_stripe.session_pay(session.id)

    refund = stripe_gateway.refund_create(
        payment_intent_id=paid["payment_intent"], idempotency_key="refund-1-pi"
    )

    (request,) = fake_stripe.requests_to("/v1/refunds", "POST")
    assert request.idempotency_key == "refund-1-pi"
    assert refund.amount == Decimal("49.99")
    assert refund.payment_intent_id == paid["payment_intent"]


def test_checkout_session_list_completed_follows_pages_and_filters(fake_stripe):
    fake_stripe.max_page_size = 2
    now = int(time.time())
    recent = [
        fake_stripe.checkout_session_add(amount=1000, metadata={}, created=now - i)
        for i in range(5)
    ]
    old = fake_stripe.checkout_session_add(amount=1000, metadata={}, created=now - 9999)
    still_open = fake_stripe.checkout_session_add(amount=1000, metadata={})
    for session in [*recent, old]:
        fake_stripe.session_pay(session["id"])

    listed = list(
        stripe_gateway.checkout_session_list_completed(created_since=now - 100)
    )

    assert sorted(s.id for s in listed) == sorted(s["id"] for s in recent)
    assert still_open["id"] not in {s.id for s in listed}
    assert len(fake_stripe.requests_to("/v1/checkout/sessions", "GET")) == 3


def _signed(payload: bytes, *, secret: str, timestamp: int | None = None) -> str:
    return stripe_signature(payload, secret, timestamp=timestamp)


def test_webhook_event_parse_accepts_a_real_signature(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_abc"
    payload = b'{"id": "evt_1", "type": "x.y", "created": 1, "data": {"object": {}}}'

    event = stripe_gateway.webhook_event_parse(
        payload=payload, signature=_signed(payload, secret="whsec_abc")
    )

    assert event.id == "evt_1"
    assert event.type == "x.y"


@pytest.mark.parametrize(
    ("signature_secret", "age_seconds", "header"),
    [
        ("whsec_other", 0, True),  # bad signature
        ("whsec_abc", 301, True),  # stale: beyond Stripe's 300 s tolerance
        ("whsec_abc", 0, False),  # missing header
    ],
)
def test_webhook_event_parse_refuses_bad_stale_and_missing_signatures(
    settings, signature_secret, age_seconds, header
):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_abc"
    payload = b'{"id": "evt_1", "type": "x.y", "data": {"object": {}}}'
    signature = _signed(
        payload, secret=signature_secret, timestamp=int(time.time()) - age_seconds
    )

    with pytest.raises(stripe_gateway.InvalidWebhook):
        stripe_gateway.webhook_event_parse(
            payload=payload, signature=signature if header else None
        )


def test_webhook_event_parse_refuses_a_signed_non_event(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_abc"
    payload = b'{"hello": "world"}'

    with pytest.raises(stripe_gateway.InvalidWebhook):
        stripe_gateway.webhook_event_parse(
            payload=payload, signature=_signed(payload, secret="whsec_abc")
        )


def test_webhook_event_parse_without_secret_is_not_configured(settings):
    settings.STRIPE_WEBHOOK_SECRET = ""

    with pytest.raises(stripe_gateway.PaymentsNotConfigured):
        stripe_gateway.webhook_event_parse(payload=b"{}", signature="t=1,v1=x")
