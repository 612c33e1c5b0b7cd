"""The Stripe client, its errors, and money at the boundary: Decimal in, integer
cents out. Settings are read when a function runs."""

import logging
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

_CENT = Decimal("0.01")


class PaymentsNotConfigured(Exception):
    """STRIPE_SECRET_KEY (or STRIPE_WEBHOOK_SECRET for webhooks) is not set."""


class PaymentProviderError(Exception):
    """Stripe answered with an error, or could not be reached."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PaymentObjectNotFound(PaymentProviderError):
    """Stripe does not know this object id (its 404)."""


class InvalidAmount(ValueError):
    """An amount that cannot be charged exactly in integer cents."""


def amount_to_cents(amount: Decimal) -> int:
    """Decimal("49.99") -> 4999; refuses negative and sub-cent amounts."""
    if not isinstance(amount, Decimal):
        raise InvalidAmount(f"amount must be a Decimal, not {type(amount).__name__}")
    if not amount.is_finite() or amount < 0:
        raise InvalidAmount(f"cannot charge {amount}")
    if amount.quantize(_CENT) != amount:
        raise InvalidAmount(f"{amount} has a fraction of a cent")
    return int(amount * 100)


def cents_to_amount(cents: int | None) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(_CENT)


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def is_live_key() -> bool:
    """Whether STRIPE_SECRET_KEY is a live-mode key (secret or restricted)."""
    return settings.STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))


def stripe_client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise PaymentsNotConfigured("STRIPE_SECRET_KEY is not set")
    base_addresses = {}
    if settings.STRIPE_API_BASE:
        base_addresses["api"] = settings.STRIPE_API_BASE.rstrip("/")
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base_addresses,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_HTTP_TIMEOUT_SECONDS),
    )


def call(request: Callable[[stripe.StripeClient], Any]) -> dict[str, Any]:
    """Run one request; the answer comes back as plain dicts."""
    client = stripe_client()
    try:
        return request(client).to_dict()
    except stripe.StripeError as exc:
        raise provider_error(exc) from exc


def list_all(
    request: Callable[[stripe.StripeClient, dict[str, Any]], Any],
    params: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """Every object of a list request, page after page, as plain dicts."""
    client = stripe_client()
    try:
        page = request(client, {**params, "limit": 100})
        for raw in page.auto_paging_iter():
            yield raw.to_dict()
    except stripe.StripeError as exc:
        raise provider_error(exc) from exc


def provider_error(exc: stripe.StripeError) -> PaymentProviderError:
    # Logged for staff; the client only ever sees a generic message.
    logger.warning(
        "Stripe error %s (status %s, code %s, request %s)",
        type(exc).__name__,
        exc.http_status,
        exc.code,
        exc.request_id,
    )
    if exc.http_status == 404:
        return PaymentObjectNotFound(str(exc.user_message or exc), code=exc.code)
    return PaymentProviderError(str(exc.user_message or exc), code=exc.code)


def id_of(value: Any) -> str | None:
    """Stripe sends either an id or the expanded object."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return value.get("id")
    return str(value)


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(value or {}).items()}
