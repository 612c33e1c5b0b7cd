"""Webhook deliveries: the Stripe-Signature checked, the event parsed."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings

from courses.stripe_gateway.base import PaymentsNotConfigured

# Stripe's own default: a signed delivery older than this is refused (replays).
WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE


class InvalidWebhook(Exception):
    """A webhook delivery whose signature is missing, wrong or too old."""


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    data_object: Mapping[str, Any]
    payload: Mapping[str, Any]


def webhook_event_parse(*, payload: bytes, signature: str | None) -> WebhookEvent:
    """Verify a delivery's Stripe-Signature (with Stripe's tolerance) and parse it."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise PaymentsNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, signature, secret, WEBHOOK_TOLERANCE_SECONDS
        )
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError, stripe.SignatureVerificationError) as exc:
        raise InvalidWebhook(str(exc)) from exc
    try:
        return WebhookEvent(
            id=str(body["id"]),
            type=str(body["type"]),
            created=int(body.get("created") or 0),
            data_object=body["data"]["object"],
            payload=body,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidWebhook("not a Stripe event") from exc
