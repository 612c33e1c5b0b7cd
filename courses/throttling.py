"""Request rates: anonymous callers by IP address, signed-in callers by Clerk user.

Every throttle finds the caller's address with courses.http.client_ip, which
trusts X-Forwarded-For only as far as TRUSTED_PROXY_COUNT proxies vouch for
it: a client that writes a new address in the header on every request is
still counted as one.

With Redis as the cache (REDIS_URL), a request's bookkeeping is one Lua
script run by Redis: DRF's sliding window (the times of the requests let
through in the last period) checked and extended in one round trip and
atomically, where DRF reads the pickled history, then writes it back (two
round trips, and two workers or nodes reading at once could both let a
request through). Without Redis, DRF's own bookkeeping runs on the
per-process cache.
"""

import threading
from typing import Any

from rest_framework import throttling
from rest_framework.request import Request

from courses.http import client_ip

# KEYS[1]: the caller's history, a list of request times, newest first.
# ARGV: now, the period in seconds, the number of requests allowed.
# Returns 1 when the request is let through (and recorded); otherwise
# {0, the requests in the window, the oldest one's time}, for Retry-After.
HISTORY_SCRIPT = """
local key = KEYS[1]
local window_start = tonumber(ARGV[1]) - tonumber(ARGV[2])
local oldest = redis.call('LINDEX', key, -1)
while oldest and tonumber(oldest) <= window_start do
  redis.call('RPOP', key)
  oldest = redis.call('LINDEX', key, -1)
end
local count = redis.call('LLEN', key)
if count >= tonumber(ARGV[3]) then
  return {0, count, oldest}
end
redis.call('LPUSH', key, ARGV[1])
redis.call('EXPIRE', key, ARGV[2])
return 1
"""

_scripts: dict[int, Any] = {}
_scripts_lock = threading.Lock()


def _history_script(client: Any) -> Any:
    """The registered script for `client` (EVALSHA, loaded again if Redis lost it)."""
    script = _scripts.get(id(client))
    if script is None:
        with _scripts_lock:
            script = _scripts.setdefault(
                id(client), client.register_script(HISTORY_SCRIPT)
            )
    return script


class _RedisHistory(throttling.SimpleRateThrottle):
    """DRF's sliding-window bookkeeping in one atomic Redis round trip.

    Listed last among a throttle's bases, so that it comes right before
    SimpleRateThrottle: ScopedRateThrottle has set its rate by the time its
    allow_request() reaches this one.
    """

    # Set by the Redis path when it refuses a request; DRF's own wait() reads
    # self.history otherwise.
    _count: int | None = None
    _oldest: float = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        redis_client = getattr(self.cache, "redis_client", None)
        if redis_client is None or self.rate is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        client, stored_key = redis_client(f"history:{self.key}")
        self.now = self.timer()
        answer = _history_script(client)(
            keys=[stored_key],
            args=[repr(self.now), self.duration, self.num_requests],
            client=client,
        )
        if answer == 1:
            return True
        _refused, count, *oldest = answer
        self._count = int(count)
        # No oldest time: a rate of 0 requests, which nothing ever passes.
        self._oldest = float(oldest[0]) if oldest else self.now
        return False

    def wait(self) -> float | None:
        """DRF's wait(), from the count and oldest time the script returned."""
        if self._count is None:
            return super().wait()
        remaining = self.duration - (self.now - self._oldest)
        available = self.num_requests - self._count + 1
        if available <= 0:
            return None
        return remaining / float(available)


class _ClientIpMixin:
    def get_ident(self, request: Request) -> str:
        # DRF's Request wraps Django's HttpRequest, which client_ip takes.
        return client_ip(getattr(request, "_request", request))


class AnonRateThrottle(_ClientIpMixin, throttling.AnonRateThrottle, _RedisHistory):
    """THROTTLE_ANON_RATE per client IP address, for callers without a token."""


class SignedInRateThrottle(_ClientIpMixin, throttling.UserRateThrottle, _RedisHistory):
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


class ScopedRateThrottle(_ClientIpMixin, throttling.ScopedRateThrottle, _RedisHistory):
    """The view's `throttle_scope` rate (e.g. THROTTLE_CHECKOUT_RATE) per user."""
