"""Clerk's Backend API, its JWKS and its webhooks, behind small frozen types.

The only module that makes HTTP calls to Clerk: the Backend API
(`CLERK_API_URL`, with `CLERK_SECRET_KEY`) and the JWKS document
(`CLERK_JWKS_URL`, read by courses/clerk_keys.py, which parses and caches the
keys); and the only one that checks a webhook's Svix signature
(`CLERK_WEBHOOK_SIGNING_SECRET`). Session tokens are checked in
courses/authentication.py. Settings are read when a function runs. Every
call has a timeout (`CLERK_HTTP_TIMEOUT_SECONDS`); nothing here knows about
students, enrollments or views.
"""

import datetime
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

# Clerk's user ids: "user_" and a base62 string. Checked before an id is put
# in a Backend API URL or stored, so that no input can steer either.
CLERK_USER_ID = re.compile(r"user_[A-Za-z0-9]{1,100}")
USER_LIST_PAGE_SIZE = 100
# The Backend API answers 429 past its rate limit: the listing waits and
# tries again this many times, each wait capped (a sign-in never waits).
RATE_LIMIT_RETRIES = 3
RATE_LIMIT_MAX_WAIT_SECONDS = 10.0
WEBHOOK_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")
_EMAIL_MAX_LENGTH = 254
_NAME_MAX_LENGTH = 255
_URL_MAX_LENGTH = 2000
_MESSAGE_ID_MAX_LENGTH = 255


class ClerkError(Exception):
    """The Backend API could not answer the question."""


class ClerkNotConfigured(ClerkError):
    """CLERK_SECRET_KEY is not set: the Backend API cannot be called."""


class ClerkUnavailable(ClerkError):
    """Clerk did not answer, answered an error, or answered something unreadable."""


class ClerkUserNotFound(ClerkError):
    """Clerk has no such user (never existed, or deleted)."""


class WebhookNotConfigured(Exception):
    """CLERK_WEBHOOK_SIGNING_SECRET is not set, or is not a Svix secret."""


class InvalidWebhook(Exception):
    """A delivery whose signature, timestamp or body is not Clerk's."""


@dataclass(frozen=True)
class ClerkUserData:
    """What the platform keeps of a Clerk user, cleaned to fit its columns."""

    id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    image_url: str = ""
    # Clerk's `updated_at`; None when the data does not come from Clerk's
    # user object (a session token's claims).
    updated_at: datetime.datetime | None = None


@dataclass(frozen=True)
class UserPage:
    """One page of the user list: its users, and how many entries Clerk sent
    (a page shorter than asked for is the last one)."""

    users: tuple[ClerkUserData, ...]
    size: int


@dataclass(frozen=True)
class WebhookEvent:
    """A verified delivery: its Svix message id, Clerk's event type and data."""

    id: str
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def clerk_user_id(self) -> str:
        """The user a `user.*` event is about; empty for other events."""
        if not self.type.startswith("user."):
            return ""
        return self.data.get("id", "")


# --- Users -------------------------------------------------------------------------


def user_get(clerk_user_id: str) -> ClerkUserData:
    """One user from `GET {CLERK_API_URL}/users/{id}`."""
    if not CLERK_USER_ID.fullmatch(clerk_user_id):
        raise ClerkUserNotFound(clerk_user_id)
    data = _api_get(f"/users/{quote(clerk_user_id, safe='')}", not_found_ok=True)
    if data is None:
        raise ClerkUserNotFound(clerk_user_id)
    try:
        return user_from_dict(data)
    except ValueError:
        logger.warning("Clerk Backend API sent a user without a valid id")
        raise ClerkUnavailable("unreadable user") from None


def user_list(*, offset: int, limit: int = USER_LIST_PAGE_SIZE) -> UserPage:
    """One page of `GET {CLERK_API_URL}/users?limit=&offset=` (newest first).

    Entries that are not users with a valid id are left out, and logged.
    """
    page = _api_get(
        "/users", params={"limit": limit, "offset": offset}, retry_rate_limited=True
    )
    if not isinstance(page, list):
        logger.warning("Clerk Backend API sent a user list that is not a JSON array")
        raise ClerkUnavailable("unreadable user list")
    users = []
    for entry in page:
        try:
            users.append(user_from_dict(entry))
        except ValueError:
            logger.warning("Clerk Backend API listed a user without a valid id")
    return UserPage(users=tuple(users), size=len(page))


def user_count() -> int:
    """How many users the instance has (`GET {CLERK_API_URL}/users/count`)."""
    data = _api_get("/users/count", retry_rate_limited=True)
    count = data.get("total_count") if isinstance(data, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ClerkUnavailable("unreadable user count")
    return count


def user_from_dict(data: Any) -> ClerkUserData:
    """A Clerk user object (Backend API or webhook `data`) as ClerkUserData.

    The primary email is the entry of `email_addresses` whose id is
    `primary_email_address_id`. Raises ValueError without a valid user id.
    """
    if not isinstance(data, Mapping):
        raise ValueError("not a user object")
    user_id = data.get("id")
    if not isinstance(user_id, str) or not CLERK_USER_ID.fullmatch(user_id):
        raise ValueError("no valid user id")
    image_url = _text(data.get("image_url"), _URL_MAX_LENGTH + 1)
    if len(image_url) > _URL_MAX_LENGTH or not image_url.startswith(
        ("https://", "http://")
    ):
        image_url = ""
    return ClerkUserData(
        id=user_id,
        email=_primary_email(data),
        first_name=_text(data.get("first_name"), _NAME_MAX_LENGTH),
        last_name=_text(data.get("last_name"), _NAME_MAX_LENGTH),
        image_url=image_url,
        updated_at=_timestamp_ms(data.get("updated_at")),
    )


def _primary_email(user: Mapping[str, Any]) -> str:
    primary_id = user.get("primary_email_address_id")
    addresses = user.get("email_addresses")
    if not primary_id or not isinstance(addresses, list):
        return ""
    for address in addresses:
        if isinstance(address, Mapping) and address.get("id") == primary_id:
            email = _text(address.get("email_address"), _EMAIL_MAX_LENGTH + 1)
            # Longer than any valid address: kept as none rather than cut.
            return email if len(email) <= _EMAIL_MAX_LENGTH else ""
    return ""


def _text(value: Any, max_length: int) -> str:
    if not isinstance(value, str):
        return ""
    # PostgreSQL cannot store NUL in text.
    return value.replace("\x00", "").strip()[:max_length]


def _timestamp_ms(value: Any) -> datetime.datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _api_get(
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    not_found_ok: bool = False,
    retry_rate_limited: bool = False,
) -> Any:
    """The JSON of a Backend API GET; None for a 404 when `not_found_ok`."""
    if not settings.CLERK_SECRET_KEY:
        raise ClerkNotConfigured("CLERK_SECRET_KEY is not set")
    url = settings.CLERK_API_URL.rstrip("/") + path
    retries = RATE_LIMIT_RETRIES if retry_rate_limited else 0
    while True:
        try:
            response = requests.get(
                url,
                params=params,
                headers={"Authorization": f"Bearer {settings.CLERK_SECRET_KEY}"},
                timeout=settings.CLERK_HTTP_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            logger.warning("Clerk Backend API unreachable (%s)", type(exc).__name__)
            raise ClerkUnavailable(type(exc).__name__) from None
        if response.status_code == 429 and retries > 0:
            retries -= 1
            time.sleep(_retry_after(response))
            continue
        break
    if response.status_code == 404 and not_found_ok:
        return None
    if response.status_code != 200:
        # 401/403 here means CLERK_SECRET_KEY is wrong: our fault, not the user's.
        logger.warning(
            "Clerk Backend API answered HTTP %s to GET %s",
            response.status_code,
            path.split("/")[1],
        )
        raise ClerkUnavailable(f"HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        logger.warning("Clerk Backend API answered something that is not JSON")
        raise ClerkUnavailable("not JSON") from None


def _retry_after(response: requests.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), RATE_LIMIT_MAX_WAIT_SECONDS)


# --- JWKS ----------------------------------------------------------------------------


def jwks_get(jwks_url: str) -> list[Any]:
    """The `keys` of the JWKS document at jwks_url, unchecked (courses/clerk_keys.py
    keeps the usable ones); ClerkUnavailable if Clerk does not serve one."""
    try:
        response = requests.get(
            jwks_url,
            timeout=settings.CLERK_HTTP_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        logger.warning(
            "Clerk JWKS unreachable at %s (%s)", jwks_url, type(exc).__name__
        )
        raise ClerkUnavailable(type(exc).__name__) from None
    if response.status_code != 200:
        logger.warning(
            "Clerk JWKS at %s answered HTTP %s", jwks_url, response.status_code
        )
        raise ClerkUnavailable(f"HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        document = None
    keys = document.get("keys") if isinstance(document, dict) else None
    return keys if isinstance(keys, list) else []


# --- Webhooks ------------------------------------------------------------------------


def webhook_event_parse(*, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """Verify a delivery's Svix signature over the raw body, then read the event.

    Raises WebhookNotConfigured without a usable secret, InvalidWebhook for a
    missing, wrong or stale signature (over 5 minutes off, Svix's tolerance),
    or a body that is not a Clerk event.
    """
    secret = settings.CLERK_WEBHOOK_SIGNING_SECRET.strip()
    if not secret.removeprefix("whsec_"):
        raise WebhookNotConfigured("CLERK_WEBHOOK_SIGNING_SECRET is not set")
    # Imported here: importing svix loads its whole API client (about half a
    # second), which only this function needs.
    from svix.webhooks import Webhook, WebhookVerificationError

    try:
        verifier = Webhook(secret)
    except (ValueError, RuntimeError):  # not base64 after whsec_
        raise WebhookNotConfigured("not a whsec_ secret") from None
    signed = {name: headers.get(name) or "" for name in WEBHOOK_HEADERS}
    try:
        verifier.verify(payload, signed)
    except (WebhookVerificationError, ValueError) as exc:
        # ValueError: a body that is not UTF-8, a malformed signature entry.
        raise InvalidWebhook(str(exc) or type(exc).__name__) from None
    message_id = signed["svix-id"]
    if len(message_id) > _MESSAGE_ID_MAX_LENGTH:
        raise InvalidWebhook("svix-id too long")
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        raise InvalidWebhook("body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise InvalidWebhook("body is not an event")
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidWebhook("event without data")
    parsed = WebhookEvent(id=message_id, type=event["type"][:255], data=data)
    if parsed.type.startswith("user.") and not CLERK_USER_ID.fullmatch(
        str(data.get("id", ""))
    ):
        raise InvalidWebhook("user event without a valid user id")
    return parsed
