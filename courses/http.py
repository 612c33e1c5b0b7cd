"""Who is on the other end of a request: the client's IP address behind known proxies.

One function, `client_ip`, for everything that keys on the caller's address
(throttles, the request log, sign-in lockouts), so they all agree on who the
caller is and none of them can be fooled by a header the caller wrote.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting exactly TRUSTED_PROXY_COUNT proxies.

    Each trusted proxy appends the address it received the connection from to
    X-Forwarded-For, so the client is the entry TRUSTED_PROXY_COUNT places from
    the right; everything to its left was written by the client and is ignored.
    With 0 (no proxy), the header is ignored and the socket's address is used.
    This is DRF's NUM_PROXIES rule, which the settings set to the same count.

    A value that is not an IP address (a misconfigured proxy chain) falls back
    to the socket's address rather than letting arbitrary text become a
    throttle key or a log field. Returns "" when not even that is known.
    """
    remote_addr = _ip_or_empty(request.META.get("REMOTE_ADDR", ""))
    count = settings.TRUSTED_PROXY_COUNT
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count <= 0 or not forwarded_for:
        return remote_addr
    addresses = [part.strip() for part in forwarded_for.split(",")]
    # Fewer entries than proxies: the leftmost is the furthest hop known (DRF
    # does the same).
    candidate = addresses[-min(count, len(addresses))]
    return _ip_or_empty(candidate) or remote_addr


def _ip_or_empty(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""
