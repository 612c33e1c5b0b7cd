"""The first authentication backend: axes' lockout check, which marks the attempts
it refuses, so that the sign-in record tells a refusal from a wrong password."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.http import HttpRequest

# Set on a request whose sign-in was refused because its username and IP
# address are locked out: no later backend ran, so no password was checked.
REFUSED_WHILE_LOCKED = "staff_signin_refused_while_locked"


class StaffLockoutBackend(AxesStandaloneBackend):
    """axes' AxesStandaloneBackend: first in AUTHENTICATION_BACKENDS, it stops a
    locked-out attempt before ModelBackend checks the password."""

    def authenticate(
        self,
        request: HttpRequest,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            return super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            setattr(request, REFUSED_WHILE_LOCKED, True)
            raise
