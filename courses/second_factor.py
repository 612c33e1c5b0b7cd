"""Whether a staff member's session has passed the second factor, when the
deployment asks for one (ADMIN_REQUIRE_2FA)."""

from django.conf import settings
from django.http import HttpRequest


def second_factor_required() -> bool:
    return bool(settings.ADMIN_REQUIRE_2FA)


def second_factor_passed(request: HttpRequest) -> bool:
    """True when no second factor is required, or when this session entered a
    code of one of the user's confirmed authenticators (django-otp's
    OTPMiddleware sets user.is_verified; without it, nothing is verified)."""
    if not second_factor_required():
        return True
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified is not None and is_verified())
