"""courses.clerk_gateway: Clerk's users and webhooks as our own small types, over
real HTTP to the fake Clerk, with real Svix signatures."""

import datetime
import json
import time

import pytest

from courses import clerk_gateway
from courses.clerk_gateway import (
    ClerkNotConfigured,
    ClerkUnavailable,
    ClerkUserNotFound,
    InvalidWebhook,
    WebhookNotConfigured,
    user_from_dict,
    webhook_event_parse,
)
from courses.tests.fakes.clerk import svix_signature

# --- Users ----------------------------------------------------------------------------


def test_user_from_dict_takes_the_primary_email_and_clerks_updated_at():
    user = user_from_dict(
        {
            "id": "user_ada",
            "first_name": " Ada ",
            "last_name": None,
            "image_url": "https://img.clerk.com/ada.png",
            "primary_email_address_id": "idn_2",
            "email_addresses": [
                {"id": "idn_1", "email_address": "old@example.com"},
                {"id": "idn_2", "email_address": "ada@example.com"},
            ],
            "updated_at": 1_764_504_000_123,
        }
    )

    assert user.email == "ada@example.com"
    assert (user.first_name, user.last_name) == ("Ada", "")
    assert user.image_url == "https://img.clerk.com/ada.png"
    assert user.updated_at == datetime.datetime(
        2025, 11, 30, 12, 0, 0, 123000, tzinfo=datetime.UTC
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"primary_email_address_id": None, "email_addresses": []}, ""),
        ({"primary_email_address_id": "idn_9", "email_addresses": "x"}, ""),
        (
            {
                "primary_email_address_id": "idn_1",
                "email_addresses": [
                    {"id": "idn_1", "email_address": "a" * 250 + "@x.io"}
                ],
            },
            "",
        ),
        (
            {
                "primary_email_address_id": "idn_1",
                "email_addresses": [{"id": "idn_1", "email_address": "a\x00@x.io"}],
            },
            "a@x.io",
        ),
    ],
    ids=["none", "not_a_list", "longer_than_any_email", "nul"],
)
def test_user_from_dict_keeps_no_email_rather_than_a_broken_one(data, expected):
    assert user_from_dict({"id": "user_1", **data}).email == expected


@pytest.mark.parametrize(
    "image_url", ["javascript:alert(1)", "https://x/" + "a" * 2000, 42]
)
def test_user_from_dict_drops_an_image_url_it_cannot_keep(image_url):
    assert user_from_dict({"id": "user_1", "image_url": image_url}).image_url == ""


@pytest.mark.parametrize(
    "updated_at", [None, "yesterday", True, 10**30], ids=["none", "str", "bool", "huge"]
)
def test_user_from_dict_without_a_usable_updated_at_has_none(updated_at):
    assert user_from_dict({"id": "user_1", "updated_at": updated_at}).updated_at is None


@pytest.mark.parametrize("data", [{"id": "org_1"}, {"id": 7}, {}, [], "user_1"])
def test_user_from_dict_refuses_anything_but_a_clerk_user(data):
    with pytest.raises(ValueError, match="user"):
        user_from_dict(data)


def test_user_get_reads_one_user(fake_clerk):
    fake_clerk.add_user("user_ada", email="ada@example.com", first_name="Ada")

    user = clerk_gateway.user_get("user_ada")

    assert (user.id, user.email, user.first_name) == (
        "user_ada",
        "ada@example.com",
        "Ada",
    )
    assert fake_clerk.user_fetches == 1


def test_user_get_of_an_unknown_or_malformed_id_is_not_found(fake_clerk):
    with pytest.raises(ClerkUserNotFound):
        clerk_gateway.user_get("user_unknown")
    with pytest.raises(ClerkUserNotFound):
        clerk_gateway.user_get("user_1/../../v1/users")

    assert fake_clerk.user_fetches == 1


def test_user_get_without_a_secret_key_is_not_configured(fake_clerk, settings):
    settings.CLERK_SECRET_KEY = ""

    with pytest.raises(ClerkNotConfigured):
        clerk_gateway.user_get("user_1")

    assert fake_clerk.user_fetches == 0


@pytest.mark.parametrize("fault", ["wrong_key", "error", "down"])
def test_user_get_when_clerk_cannot_answer_is_unavailable(fake_clerk, settings, fault):
    fake_clerk.add_user("user_1", email="a@example.com")
    if fault == "wrong_key":
        settings.CLERK_SECRET_KEY = "sk_test_wrong"
    elif fault == "error":
        fake_clerk.fail(500)
    else:
        fake_clerk.stop()

    with pytest.raises(ClerkUnavailable):
        clerk_gateway.user_get("user_1")


def test_user_list_pages_newest_first_and_counts(fake_clerk):
    for number in range(5):
        fake_clerk.add_user(f"user_{number}", email=f"{number}@example.com")

    first = clerk_gateway.user_list(offset=0, limit=2)
    last = clerk_gateway.user_list(offset=4, limit=2)

    assert [user.id for user in first.users] == ["user_4", "user_3"]
    assert (first.size, last.size) == (2, 1)
    assert [user.id for user in last.users] == ["user_0"]
    assert clerk_gateway.user_count() == 5


def test_user_list_leaves_out_entries_that_are_not_users_but_counts_them(
    fake_clerk,
):
    fake_clerk.add_user("user_1", email="a@example.com")
    fake_clerk.users["org_1"] = {"id": "org_1", "object": "organization", "_order": 9}

    page = clerk_gateway.user_list(offset=0, limit=10)

    assert [user.id for user in page.users] == ["user_1"]
    assert page.size == 2


def test_user_list_gives_up_after_a_few_rate_limited_answers(fake_clerk):
    fake_clerk.fail(429, path="/v1/users")
    started = time.monotonic()

    with pytest.raises(ClerkUnavailable):
        clerk_gateway.user_list(offset=0)

    assert fake_clerk.user_list_fetches == clerk_gateway.RATE_LIMIT_RETRIES + 1
    assert time.monotonic() - started < 30


# --- Webhooks -------------------------------------------------------------------------


def _signed(clerk, body: bytes, message_id: str = "msg_1") -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": svix_signature(
            clerk.webhook_secret, message_id, timestamp, body
        ),
    }


def test_webhook_event_parse_reads_a_verified_delivery(fake_clerk):
    delivery = fake_clerk.webhook_delivery(
        "user.deleted", {"id": "user_1", "deleted": True}
    )

    event = webhook_event_parse(payload=delivery.payload, headers=delivery.headers)

    assert (event.id, event.type) == (delivery.message_id, "user.deleted")
    assert event.clerk_user_id == "user_1"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"data": {}}',
        b'{"type": "user.created", "data": []}',
        b'{"type": "user.created", "data": {"id": "org_1"}}',
        b'{"type": "user.deleted", "data": {}}',
        ("[" * 100_000).encode(),
    ],
    ids=[
        "not_json",
        "not_an_object",
        "no_type",
        "data_not_an_object",
        "user_event_without_a_user_id",
        "deletion_without_a_user_id",
        "deeply_nested",
    ],
)
def test_a_signed_body_that_is_not_a_clerk_event_is_invalid(fake_clerk, body):
    with pytest.raises(InvalidWebhook):
        webhook_event_parse(payload=body, headers=_signed(fake_clerk, body))


def test_an_overlong_message_id_is_invalid(fake_clerk):
    body = json.dumps({"type": "session.created", "data": {}}).encode()

    with pytest.raises(InvalidWebhook):
        webhook_event_parse(
            payload=body, headers=_signed(fake_clerk, body, message_id="m" * 300)
        )


@pytest.mark.parametrize("secret", ["", "  ", "whsec_"])
def test_without_a_secret_webhooks_are_not_configured(fake_clerk, settings, secret):
    settings.CLERK_WEBHOOK_SIGNING_SECRET = secret
    delivery = fake_clerk.webhook_delivery("user.deleted", {"id": "user_1"})

    with pytest.raises(WebhookNotConfigured):
        webhook_event_parse(payload=delivery.payload, headers=delivery.headers)
