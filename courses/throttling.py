"""Request rates: anonymous callers by IP address, signed-in callers by Clerk user.

Every throttle finds the caller's address with courses.http.client_ip, which
trusts X-Forwarded-For only as far as TRUSTED_PROXY_COUNT proxies vouch for
it: a client that writes a new address in the header on every request is
still counted as one.
"""

from typing import Any

from rest_framework import throttling
from rest_framework.request import Request

from courses.http import client_ip


class _ClientIpMixin:
    def get_ident(self, request: Request) -> str:
        # DRF's Request wraps Django's HttpRequest, which client_ip takes.
        return client_ip(getattr(request, "_request", request))


class AnonRateThrottle(_ClientIpMixin, throttling.AnonRateThrottle):
    """THROTTLE_ANON_RATE per client IP address, for callers without a token."""


class SignedInRateThrottle(_ClientIpMixin, throttling.UserRateThrottle):
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


class ScopedRateThrottle(_ClientIpMixin, throttling.ScopedRateThrottle):
    """The view's `throttle_scope` rate (e.g. THROTTLE_CHECKOUT_RATE) per user."""
