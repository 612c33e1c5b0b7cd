"""Failing dependencies: each gets a clear answer, nothing is lost, and the
service recovers without a restart."""

import contextlib
from collections.abc import Iterator

import psycopg2
import pytest
import requests
from django.db import connection

from courses.tests.test_hostile_gunicorn import running_gunicorn

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextlib.contextmanager
def _maintenance_connection() -> Iterator[psycopg2.extensions.cursor]:
    """A superuser session on the `postgres` database, outside the one under test."""
    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname="postgres", user=db["USER"], host=db["HOST"], port=db["PORT"]
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def _own_backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate_server_backends(cursor, name: str, keep_pid: int) -> int:
    cursor.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> %s",
        [name, keep_pid],
    )
    return cursor.fetchone()[0]


@contextlib.contextmanager
def _database_refusing_connections(cursor, name: str, keep_pid: int):
    """Close the database to new sessions and end the server's open ones."""
    cursor.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        _terminate_server_backends(cursor, name, keep_pid)
        yield
    finally:
        cursor.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def _assert_clean_json_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert "Traceback" not in response.text
    assert "psycopg" not in response.text.lower()


@pytest.mark.postgres_only
def test_server_reconnects_after_its_database_sessions_are_killed():
    name = connection.settings_dict["NAME"]
    keep_pid = _own_backend_pid()

    with (
        running_gunicorn(database_url=_database_url()) as url,
        _maintenance_connection() as cursor,
    ):
        before = requests.get(f"{url}/api/health/", timeout=20)
        killed = _terminate_server_backends(cursor, name, keep_pid)
        after = [requests.get(f"{url}/api/health/", timeout=20) for _ in range(20)]

    assert before.status_code == 200
    assert killed >= 1
    assert [response.status_code for response in after] == [200] * 20


@pytest.mark.postgres_only
def test_server_answers_503_while_the_database_refuses_then_recovers():
    name = connection.settings_dict["NAME"]
    keep_pid = _own_backend_pid()

    with (
        running_gunicorn(database_url=_database_url()) as url,
        _maintenance_connection() as cursor,
    ):
        with _database_refusing_connections(cursor, name, keep_pid):
            down = requests.get(f"{url}/api/health/", timeout=20)
        up = requests.get(f"{url}/api/health/", timeout=20)

    _assert_clean_json_error(down, 503)
    assert down.json() == {"status": "degraded", "database": "unavailable"}
    assert up.status_code == 200
