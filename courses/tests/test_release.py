"""bin/release on a fresh PostgreSQL database: the deploy check, then migrations
over the direct URL under a lock, so two deploys at once apply each migration once.
"""

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
import redis

from courses.catalog_cache import VERSION_KEY
from courses.management.commands.release import RELEASE_LOCK_KEY

pytestmark = pytest.mark.postgres_only

# A database number of its own (the test empties it); the key as the settings'
# KEY_PREFIX and Django's version 1 name it.
REDIS_URL = "redis://127.0.0.1:6379/7"
CATALOG_VERSION_KEY = f"courseplatform:1:{VERSION_KEY}"

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "api.example.com",
    "FRONTEND_URL": "https://app.example.com",
    "CLERK_ISSUER": "https://example.clerk.accounts.dev",
    "TRUSTED_PROXY_COUNT": "1",
    "SECURE_SSL_REDIRECT": "True",
}


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server; dropped afterwards."""
    server = urlsplit(os.environ["DATABASE_URL"])
    name = f"release_{secrets.token_hex(4)}"
    admin = psycopg2.connect(server._replace(path="/postgres").geturl())
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield server._replace(path=f"/{name}").geturl()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _release(database_url: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [str(BASE_DIR / "bin" / "release")],
        cwd=BASE_DIR,
        env={
            **os.environ,
            **PRODUCTION_ENV,
            # What a pooled deploy sets: requests through the pooler,
            # migrations over the direct URL.
            "DATABASE_URL": database_url,
            "DATABASE_DIRECT_URL": database_url,
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def _release_lock_held(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    connection = psycopg2.connect(database_url)
    try:
        connection.cursor().execute(
            "SELECT pg_advisory_xact_lock(%s)", [RELEASE_LOCK_KEY]
        )
        yield connection
    finally:
        connection.rollback()
        connection.close()


def _waiting_for_the_lock(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks "
            "WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())"
        )
        return cursor.fetchone()[0]


def _applied_migrations(database_url: str) -> list[tuple[str, str]]:
    with contextlib.closing(psycopg2.connect(database_url)) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return []
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        return cursor.fetchall()


def test_two_releases_at_once_apply_each_migration_once(fresh_database):
    with _release_lock_held(fresh_database) as holder:
        releases = [_release(fresh_database), _release(fresh_database)]
        # Both are past the deploy check and wait on the lock: neither has
        # touched the schema yet.
        deadline = time.monotonic() + 120
        while _waiting_for_the_lock(holder) < 2:
            assert time.monotonic() < deadline, "the releases never reached the lock"
            assert all(release.poll() is None for release in releases)
            time.sleep(0.1)
        assert _applied_migrations(fresh_database) == []

    outputs = [release.communicate(timeout=300)[0] for release in releases]

    assert [release.returncode for release in releases] == [0, 0], outputs
    applied = _applied_migrations(fresh_database)
    assert ("courses", "0001_initial") in applied
    assert len(applied) == len(set(applied))
    assert all("waiting for it to finish" in output for output in outputs)
    assert sum("Applying courses.0001_initial" in output for output in outputs) == 1
    assert sum("No migrations to apply" in output for output in outputs) == 1


def test_a_release_that_fails_the_deploy_check_changes_no_schema(fresh_database):
    release = _release(fresh_database, SECURE_SSL_REDIRECT="False")

    output = release.communicate(timeout=120)[0]

    assert release.returncode != 0
    assert "security.W008" in output
    assert _applied_migrations(fresh_database) == []


@pytest.mark.redis
def test_a_release_retires_the_cached_catalog_answers(fresh_database):
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    client.flushdb()
    client.set(CATALOG_VERSION_KEY, b"before-the-release")

    release = _release(fresh_database, REDIS_URL=REDIS_URL)
    output, _ = release.communicate(timeout=120)

    assert release.returncode == 0, output
    assert "Cached catalog answers retired." in output
    assert client.get(CATALOG_VERSION_KEY) != b"before-the-release"
    client.flushdb()
