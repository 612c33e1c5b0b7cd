"""client_ip: the caller's address behind exactly TRUSTED_PROXY_COUNT proxies."""

import pytest
from django.test import RequestFactory

from courses.http import client_ip


def _request(forwarded_for: str | None = None, remote_addr: str = "10.0.0.5"):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/api/courses/", **headers)


@pytest.mark.parametrize(
    ("count", "forwarded_for", "expected"),
    [
        # No trusted proxy: whatever the client wrote is ignored.
        (0, None, "10.0.0.5"),
        (0, "203.0.113.9", "10.0.0.5"),
        (0, "203.0.113.9, 198.51.100.1", "10.0.0.5"),
        # One proxy appends the address it saw: the rightmost entry.
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "203.0.113.9, 198.51.100.1", "198.51.100.1"),
        (1, " 203.0.113.9 ,198.51.100.1 ", "198.51.100.1"),
        # Two proxies (a CDN, then the platform's router): second from the right.
        (2, "203.0.113.9, 198.51.100.1, 192.0.2.7", "198.51.100.1"),
        # Fewer entries than proxies: the furthest hop known.
        (3, "203.0.113.9, 198.51.100.1", "203.0.113.9"),
        # No header behind a proxy: the socket's address.
        (1, None, "10.0.0.5"),
        (1, "2001:db8::1", "2001:db8::1"),
        # Not an address: never a throttle key or a log field.
        (1, "203.0.113.9, not-an-ip", "10.0.0.5"),
        (1, "203.0.113.9, ", "10.0.0.5"),
    ],
)
def test_client_ip_trusts_exactly_the_configured_proxies(
    settings, count, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = count

    assert client_ip(_request(forwarded_for)) == expected


def test_client_ip_without_any_address_is_empty(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    assert client_ip(_request("garbage", remote_addr="")) == ""
