"""Request rates: anonymous callers by IP address, signed-in callers by Clerk user."""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle


class SignedInRateThrottle(UserRateThrottle):
    """THROTTLE_USER_RATE per signed-in user; anonymous callers are left to
    AnonRateThrottle and THROTTLE_ANON_RATE.

    DRF's UserRateThrottle also counts anonymous callers, by IP address, under
    the user rate: a second request history read from and written to the cache
    on every anonymous request, for a limit the anonymous rate reaches first.
    """

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
