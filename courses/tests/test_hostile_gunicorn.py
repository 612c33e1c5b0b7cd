"""The production server (gunicorn with config/gunicorn.py) under slow clients.

`running_gunicorn()` starts the real server on an ephemeral port; the failure
tests reuse it to break the database under a live process.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


@contextlib.contextmanager
def running_gunicorn(
    *, database_url: str, extra_args: tuple[str, ...] = (), **env: str
) -> Iterator[str]:
    """Run `gunicorn -c config/gunicorn.py` on 127.0.0.1:<free port>; yield its URL."""
    clean = {k: v for k, v in os.environ.items() if k not in env}
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "--bind",
            "127.0.0.1:0",
            *extra_args,
            "config.wsgi:application",
        ],
        cwd=BASE_DIR,
        env={
            **clean,
            "DEBUG": "False",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    output: list[str] = []
    port: list[int] = []
    listening = threading.Event()

    def read_stderr() -> None:
        # Keep draining the pipe, so a chatty server never blocks on it.
        for line in process.stderr:
            output.append(line)
            match = LISTENING.search(line)
            if match and not port:
                port.append(int(match.group(1)))
                listening.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert listening.wait(60), "gunicorn did not start:\n" + "".join(output)
        url = f"http://127.0.0.1:{port[0]}"
        _wait_until_serving(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)


def _wait_until_serving(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{url}/api/health/", timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        else:
            return


class SlowLoris:
    """Sockets that send a request's headers one byte at a time, never finishing."""

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sockets = [
            socket.create_connection((host, int(port)), timeout=5) for _ in range(count)
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def _trickle(self) -> None:
        header = b"GET /api/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
        filler = iter(header + b"a" * 100_000)
        while not self._stop.is_set():
            byte = bytes([next(filler)])
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(byte)
            self._stop.wait(0.1)

    def __enter__(self) -> "SlowLoris":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def test_slow_clients_do_not_block_other_requests_under_gunicorn(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    with running_gunicorn(database_url=database_url) as url, SlowLoris(url, count=6):
        # Long enough for every slow socket to be past the first byte and
        # holding whatever the server gave it to read its headers.
        time.sleep(2)
        answers = [requests.get(f"{url}/api/health/", timeout=20) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5


def test_gunicorn_answers_oversized_bodies_413_json(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    with running_gunicorn(
        database_url=database_url, DATA_UPLOAD_MAX_MEMORY_SIZE="1024"
    ) as url:
        response = requests.post(
            f"{url}/api/health/",
            data=b"{" + b" " * 4096 + b"}",
            headers={"Content-Type": "application/json"},
            timeout=20,
        )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert "detail" in response.json()
