"""Staff sign-in: the record of every attempt, lifting lockouts, and the second
factor (setting up an authenticator app, checking its codes, resetting it).

Every event goes through staff_signin_record, which writes one StaffSignInEvent
and one log line. Log lines are JSON after a fixed word, so a username holding
a line break cannot forge another line. Neither ever holds a password, a code
or an authenticator's secret.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django_otp import devices_for_user
from django_otp.plugins.otp_totp.models import TOTPDevice

from courses.models import StaffSignInEvent

logger = logging.getLogger(__name__)

Kind = StaffSignInEvent.Kind

_WARNINGS = frozenset({Kind.FAILED, Kind.LOCKED_OUT, Kind.REFUSED, Kind.CODE_REFUSED})
_USERNAME_MAX = StaffSignInEvent._meta.get_field("username").max_length
DEVICE_NAME = "authenticator"


def _json(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=True, separators=(",", ":"))


def staff_signin_record(
    *,
    kind: str,
    username: str,
    ip_address: str | None,
    user: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
    detail: str = "",
) -> StaffSignInEvent:
    """Record one staff sign-in event and log it: who, when, from where."""
    event = StaffSignInEvent.objects.create(
        kind=kind,
        username=(username or "")[:_USERNAME_MAX],
        user=user,
        ip_address=ip_address or None,
        actor=actor,
        detail=detail[:255],
    )
    fields = {
        "event": str(kind),
        "username": event.username,
        "ip_address": event.ip_address,
        "by": actor.get_username() if actor is not None else None,
        "detail": detail or None,
    }
    level = logging.WARNING if kind in _WARNINGS else logging.INFO
    logger.log(level, "staff_signin %s", _json(fields))
    return event


def staff_user_named(username: str) -> AbstractBaseUser | None:
    """The account a sign-in names, if there is one."""
    if not username:
        return None
    user_model = get_user_model()
    return user_model._default_manager.filter(
        **{user_model.USERNAME_FIELD: username}
    ).first()


def staff_client_str(
    username: str | None,
    ip_address: str | None,
    user_agent: str,
    path_info: str,
    request: HttpRequest | None,
) -> str:
    """How axes names a client in its log lines (AXES_CLIENT_STR_CALLABLE): the
    username and IP address, JSON-encoded; never the password."""
    return _json(
        {"username": username, "ip_address": ip_address, "path": str(path_info)}
    )


# --- Lockouts ---------------------------------------------------------------------


def staff_lockout_clear(
    *,
    username: str,
    ip_address: str | None = None,
    actor: AbstractBaseUser | None = None,
) -> int:
    """Lift the lockout of a username (from one IP address, or from all) and
    forget its failures; recorded when there was something to lift.

    Returns the number of lockout counters removed (0: nothing was locked)."""
    if not username:
        raise ValueError("A username is required: an empty one would unlock everyone.")
    count = AxesProxyHandler.reset_attempts(username=username, ip_address=ip_address)
    if count:
        where = f"from {ip_address}" if ip_address else "from every address"
        how = "in the admin" if actor is not None else "from the command line"
        staff_signin_record(
            kind=Kind.UNLOCKED,
            username=username,
            user=staff_user_named(username),
            ip_address=ip_address,
            actor=actor,
            detail=f"Unlocked {where} {how}.",
        )
    return count


# --- The second factor ----------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    """A code's verdict: the device that accepted it, or when to try again if
    too many wrong codes were entered (None: just a wrong code)."""

    device: TOTPDevice | None = None
    retry_at: datetime | None = None


def staff_has_device(*, user: AbstractBaseUser) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def staff_device_pending(*, user: AbstractBaseUser) -> TOTPDevice:
    """The authenticator being set up for a staff member: the same one, with the
    same secret, on every visit until a code confirms it."""
    with transaction.atomic():
        # Serialises two set-up pages opened at once: one pending device.
        get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()
        device = (
            TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        )
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, name=DEVICE_NAME, confirmed=False
            )
    return device


def _check(device: TOTPDevice, token: str) -> CodeCheck:
    """Check a code on a locked device row; django-otp counts the failures and
    makes each next try wait twice as long (1 s, 2 s, 4 s...)."""
    allowed, throttle = device.verify_is_allowed()
    if not allowed:
        return CodeCheck(retry_at=throttle["locked_until"])
    if device.verify_token(token):
        return CodeCheck(device=device)
    return CodeCheck()


def _record_code(
    check: CodeCheck, *, kind: str, user: AbstractBaseUser, ip_address: str | None
) -> None:
    if check.device is not None:
        staff_signin_record(
            kind=kind, username=user.get_username(), user=user, ip_address=ip_address
        )
        return
    staff_signin_record(
        kind=Kind.CODE_REFUSED,
        username=user.get_username(),
        user=user,
        ip_address=ip_address,
        detail="Not checked: too many wrong codes, waiting." if check.retry_at else "",
    )


def staff_device_confirm(
    *, user: AbstractBaseUser, token: str, ip_address: str | None
) -> CodeCheck:
    """Confirm the authenticator being set up with a code it shows; recorded."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if device is None:
            return CodeCheck()
        check = _check(device, token)
        if check.device is not None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
        _record_code(
            check, kind=Kind.DEVICE_CONFIRMED, user=user, ip_address=ip_address
        )
    return check


def staff_second_factor_verify(
    *, user: AbstractBaseUser, token: str, ip_address: str | None
) -> CodeCheck:
    """Check a code against the staff member's confirmed authenticators; recorded.

    Rows are locked while checked, so a code is accepted once even when sent
    twice at the same moment (django-otp refuses a time step already used)."""
    with transaction.atomic():
        devices = TOTPDevice.objects.select_for_update().filter(
            user=user, confirmed=True
        )
        check = CodeCheck()
        for device in devices.order_by("pk"):
            check = _check(device, token)
            if check.device is not None:
                break
        _record_code(check, kind=Kind.CODE_ACCEPTED, user=user, ip_address=ip_address)
    return check


def staff_devices_reset(*, username: str, actor: AbstractBaseUser | None = None) -> int:
    """Remove every authenticator of a staff member, who sets up a new one at the
    next sign-in (sessions that passed the old one lose that status at once).

    Raises the user model's DoesNotExist for an unknown username. Returns the
    number of devices removed; recorded."""
    user = get_user_model()._default_manager.get(
        **{get_user_model().USERNAME_FIELD: username}
    )
    with transaction.atomic():
        devices = list(devices_for_user(user, confirmed=None))
        for device in devices:
            device.delete()
        how = "in the admin" if actor is not None else "from the command line"
        staff_signin_record(
            kind=Kind.DEVICE_RESET,
            username=user.get_username(),
            user=user,
            ip_address=None,
            actor=actor,
            detail=f"{len(devices)} authenticator(s) removed {how}.",
        )
    return len(devices)
