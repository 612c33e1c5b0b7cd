"""Failing dependencies: each gets a clear answer, nothing is lost, and the
service recovers without a restart."""

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Iterator

import psycopg2
import pytest
import requests
from django.db import connection

from courses.tests.test_hostile_gunicorn import running_gunicorn

pytestmark = pytest.mark.django_db(transaction=True)


class _BrokenUpstreamHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request the way `server.mode` says a bad day looks."""

    def _answer(self) -> None:
        mode = self.server.mode
        self.server.requests_seen += 1
        if mode == "slow":
            # Longer than any client timeout used in the tests.
            self.server.release.wait(30)
            return
        body = b'{"error": {"type": "api_error", "message": "Internal error"}}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def broken_upstream(mode: str) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that is `slow` (never answers) or answers 500."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BrokenUpstreamHandler)
    server.daemon_threads = True
    server.mode = mode
    server.requests_seen = 0
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A URL where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


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


# --- Clerk slow or down, under gunicorn --------------------------------------------


def _clerk_gunicorn(fake_clerk, tmp_path):
    return running_gunicorn(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CLERK_HTTP_TIMEOUT_SECONDS="1",
        **fake_clerk.env(),
    )


def test_slow_jwks_is_abandoned_with_503_then_sign_in_recovers(fake_clerk, tmp_path):
    headers = {"Authorization": fake_clerk.authorization("user_slow")}
    fake_clerk.add_user("user_slow", email="slow@example.com")
    fake_clerk.set_delay(20, path="/.well-known/jwks.json")

    with _clerk_gunicorn(fake_clerk, tmp_path) as url:
        started = time.monotonic()
        slow = requests.get(f"{url}/api/me/", headers=headers, timeout=30)
        waited = time.monotonic() - started
        fake_clerk.heal()
        healed = [
            requests.get(f"{url}/api/me/", headers=headers, timeout=30)
            for _ in range(4)
        ]

    _assert_clean_json_error(slow, 503)
    # Bounded by CLERK_HTTP_TIMEOUT_SECONDS, not by Clerk's 20 s.
    assert waited < 15
    assert [response.status_code for response in healed] == [200] * 4
    assert healed[0].json()["email"] == "slow@example.com"


def test_clerk_down_answers_503_then_sign_in_recovers(fake_clerk, tmp_path):
    headers = {"Authorization": fake_clerk.authorization("user_down")}
    fake_clerk.add_user("user_down", email="down@example.com")

    with _clerk_gunicorn(fake_clerk, tmp_path) as url:
        fake_clerk.stop()
        down = requests.get(f"{url}/api/me/", headers=headers, timeout=30)
        fake_clerk.start()
        up = requests.get(f"{url}/api/me/", headers=headers, timeout=30)

    _assert_clean_json_error(down, 503)
    assert up.status_code == 200


def test_slow_backend_api_is_abandoned_with_503_then_recovers(fake_clerk, tmp_path):
    headers = {"Authorization": fake_clerk.authorization("user_api")}
    fake_clerk.add_user("user_api", email="api@example.com")
    fake_clerk.set_delay(20, path="/v1/users/")

    with _clerk_gunicorn(fake_clerk, tmp_path) as url:
        started = time.monotonic()
        slow = requests.get(f"{url}/api/me/", headers=headers, timeout=30)
        waited = time.monotonic() - started
        fake_clerk.heal()
        up = requests.get(f"{url}/api/me/", headers=headers, timeout=30)

    _assert_clean_json_error(slow, 503)
    assert waited < 15
    assert up.status_code == 200
    assert up.json()["email"] == "api@example.com"
