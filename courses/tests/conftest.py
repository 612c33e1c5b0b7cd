"""Shared fixtures; the skips of tests whose requirement is missing (browser,
postgres_only, redis), which REQUIRE_ALL_TESTS=1 turns into failures; and
topology tests, left out unless asked for."""

import contextlib

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from courses.tests.environment import REQUIREMENTS, require_all_tests
from courses.tests.staff import sign_in_staff


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, missing in REQUIREMENTS.items():
        if item.get_closest_marker(marker) is None:
            continue
        reason = missing()
        if reason is not None:
            pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under REQUIRE_ALL_TESTS=1 a skipped test fails, whatever skipped it."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and require_all_tests():
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = f"Skipped, and REQUIRE_ALL_TESTS=1 allows no skip: {reason}"
    return report


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    # The topology tests start PgBouncer, HAProxy and two gunicorn nodes: they
    # run when a marker expression names them (`pytest -m topology`, .ci/topology).
    if "topology" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if not item.get_closest_marker("topology")]
    if len(kept) < len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item.get_closest_marker("topology")]
        )
        items[:] = kept


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def admin_client(db, admin_user) -> Client:
    """pytest-django's admin_client, signed in past the second factor too (the
    tests run with DEBUG off, so ADMIN_REQUIRE_2FA is on)."""
    client = Client()
    sign_in_staff(client, admin_user)
    return client


@contextlib.contextmanager
def database_unreachable():
    """Make the default connection point at a database that cannot be opened.

    Use in `django_db(transaction=True)` tests: the live connection is set aside
    (SQLite's in-memory test database would vanish if closed) and put back after.
    """
    saved_connection = connection.connection
    saved_settings = dict(connection.settings_dict)
    connection.connection = None
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    else:
        connection.settings_dict["NAME"] = "/nonexistent-dir/for/sure/db.sqlite3"
    try:
        yield
    finally:
        if connection.connection is not None:
            connection.connection.close()
        connection.connection = saved_connection
        connection.settings_dict.clear()
        connection.settings_dict.update(saved_settings)


@pytest.fixture
def fake_clerk(settings):
    """A running FakeClerk (courses.tests.fakes.clerk) with the CLERK_* settings
    pointing at it: JWKS, Backend API, secret key, issuer, authorized party."""
    from courses.tests.fakes.clerk import FakeClerk

    with FakeClerk() as clerk:
        for name, value in clerk.settings().items():
            setattr(settings, name, value)
        settings.CLERK_HTTP_TIMEOUT_SECONDS = 2
        yield clerk


@pytest.fixture
def fake_stripe(settings):
    """A fake Stripe API on 127.0.0.1 for the real SDK (see fakes/stripe.py)."""
    from courses.tests.fakes.stripe import FakeStripe

    fake = FakeStripe().start()
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = fake.base_url
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_CURRENCY = "cad"
    settings.STRIPE_HTTP_TIMEOUT_SECONDS = 5
    # No automatic retries by default, so failure tests stay fast and exact.
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    yield fake
    fake.stop()
