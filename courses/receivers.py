"""Signal receivers that record staff sign-ins (connected in CoursesConfig.ready).

Django's user_logged_in and user_login_failed, and axes' user_locked_out, each
become one StaffSignInEvent through courses.services.staff_access. Django hands
over the credentials with the password already masked; only the username is
read from them.
"""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest

from courses.auth_backends import REFUSED_WHILE_LOCKED
from courses.http import client_ip
from courses.models import StaffSignInEvent
from courses.services.staff_access import staff_signin_record, staff_user_named

Kind = StaffSignInEvent.Kind


def _ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_ip(request) or None


def _refused_while_locked(request: HttpRequest | None) -> bool:
    return bool(getattr(request, REFUSED_WHILE_LOCKED, False))


def record_signed_in(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    staff_signin_record(
        kind=Kind.SIGNED_IN,
        username=user.get_username(),
        user=user,
        ip_address=_ip(request),
    )


def record_failed(
    sender: Any,
    credentials: dict[str, Any],
    request: HttpRequest | None = None,
    **kwargs: Any,
) -> None:
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    # Refused by the lockout: the password was never checked.
    kind = Kind.REFUSED if _refused_while_locked(request) else Kind.FAILED
    staff_signin_record(
        kind=kind,
        username=username,
        user=staff_user_named(username),
        ip_address=_ip(request),
    )


def record_locked_out(
    sender: Any,
    request: HttpRequest | None,
    username: str | None,
    ip_address: str | None,
    **kwargs: Any,
) -> None:
    # axes sends this signal again for each attempt it refuses while locked:
    # those are recorded as REFUSED by record_failed.
    if _refused_while_locked(request):
        return
    staff_signin_record(
        kind=Kind.LOCKED_OUT,
        username=username or "",
        user=staff_user_named(username or ""),
        ip_address=ip_address,
    )


def connect() -> None:
    user_logged_in.connect(record_signed_in, dispatch_uid="courses.signed_in")
    user_login_failed.connect(record_failed, dispatch_uid="courses.failed")
    user_locked_out.connect(record_locked_out, dispatch_uid="courses.locked_out")
