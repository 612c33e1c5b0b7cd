"""What some tests need from the machine, and how to get it when it is missing.

The browser tests need Chromium, the `postgres_only` tests PostgreSQL and the
`redis` tests a Redis server. Without them those tests are skipped with a
reason naming the missing piece (conftest.py), so `make test` ends green on a
machine with only Python and make; under REQUIRE_ALL_TESTS=1 (CI) any skip
fails the run instead.
"""

import os
from functools import cache

from django.db import connection

# Debian's package; CHROMIUM_PATH points elsewhere (or at nothing, to check
# that a machine without Chromium still ends green).
DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"
REDIS_TEST_HOST = "127.0.0.1"
REDIS_TEST_PORT = 6379


def require_all_tests() -> bool:
    """REQUIRE_ALL_TESTS=1: a skipped test is a failed test (CI)."""
    return os.environ.get("REQUIRE_ALL_TESTS", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "").strip() or DEFAULT_CHROMIUM_PATH


def missing_chromium() -> str | None:
    path = chromium_path()
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return None
    return (
        f"needs Chromium at {path}: install it with `apt-get install chromium` "
        "(or set CHROMIUM_PATH to a Chromium executable)"
    )


def missing_postgresql() -> str | None:
    if connection.vendor == "postgresql":
        return None
    return (
        "needs PostgreSQL (row locks, concurrent writers): set "
        "DATABASE_URL=postgres://user@host:5432/db to run it"
    )


@cache
def missing_redis() -> str | None:
    # Imported here: only the redis tests need the client.
    import redis

    client = redis.Redis(host=REDIS_TEST_HOST, port=REDIS_TEST_PORT, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        return (
            f"needs Redis on {REDIS_TEST_HOST}:{REDIS_TEST_PORT}: install and "
            "start it with `apt-get install redis-server`"
        )
    finally:
        client.close()
    return None


# Marker -> check; each check returns None, or why the test cannot run here.
REQUIREMENTS = {
    "browser": missing_chromium,
    "postgres_only": missing_postgresql,
    "redis": missing_redis,
}
