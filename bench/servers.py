"""The servers compared (the API with and without its catalog cache, bare Django,
the tutorial's code) as gunicorn processes: started on a free port with their
log in bench/results/, their workers' memory read, stopped; and single
requests sent to them outside wrk.
"""

import contextlib
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
# The API as deployed (its catalog cache on), the API with that cache off, the
# bare Django ceiling and the tutorial's code as written.
API, API_NOCACHE, BASELINE, TUTORIAL = "api", "api-nocache", "baseline", "tutorial"
SERVER_LABELS = {
    API: "API, cache warm",
    API_NOCACHE: "API, cache off",
    BASELINE: "bare Django",
    TUTORIAL: "tutorial as written",
}
APPS = {
    API: ("config.wsgi:application", "config.settings"),
    API_NOCACHE: ("config.wsgi:application", "config.settings"),
    BASELINE: ("bench.baseline.wsgi:application", "bench.baseline.settings"),
    TUTORIAL: ("bench.tutorial.wsgi:application", "bench.tutorial.settings"),
}
APIS = (API, API_NOCACHE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One gunicorn master and its workers.

    threaded: the README's production command, `gunicorn -c config/gunicorn.py`
    (gthread workers, GUNICORN_THREADS threads each, and the rest of that
    file's settings); otherwise gunicorn's default sync workers.
    """

    def __init__(
        self,
        name: str,
        app: str,
        env: dict[str, str],
        workers: int,
        options: tuple[str, ...] = (),
        *,
        threaded: bool = True,
    ):
        self.name = name
        self.app = app
        self.env = env
        self.workers = workers
        self.options = options
        self.threaded = threaded
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        RESULTS.mkdir(parents=True, exist_ok=True)
        log = open(RESULTS / f"{self.name}.log", "ab")  # noqa: SIM115 - owned by Popen
        env = dict(self.env)
        if self.threaded:
            command = [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.py", self.app]
            env.update(
                WEB_CONCURRENCY=str(self.workers),
                GUNICORN_BIND=f"127.0.0.1:{self.port}",
            )
        else:
            command = [PYTHON, "-m", "gunicorn", self.app]
            command += ["--workers", str(self.workers), "--timeout", "30"]
            command += ["--bind", f"127.0.0.1:{self.port}"]
        command += list(self.options)
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {RESULTS / self.name}.log")
            with contextlib.suppress(OSError):
                probe = wrk.Request("GET", "/api/courses/")
                if (
                    fetch_status(self, probe)
                    and len(self.worker_pids()) == self.workers
                ):
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not start on {self.url}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in children.split()]

    def worker_memory_mb(self) -> tuple[float, float]:
        """Mean resident (RSS) and private (USS) memory of the workers, in MB.

        RSS counts pages shared with the master and other processes too; USS
        only the worker's own, what another worker would add.
        """
        rss, uss = [], []
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                fields = {}
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    name, _, value = line.partition(":")
                    if value.strip().endswith("kB"):
                        fields[name] = int(value.split()[0]) / 1024
                rss.append(fields["Rss"])
                uss.append(fields["Private_Clean"] + fields["Private_Dirty"])
        if not rss:
            return 0.0, 0.0
        return statistics.mean(rss), statistics.mean(uss)


def fetch(server: "Server", request: wrk.Request) -> tuple[int, dict[str, str]]:
    """The status and headers of one request to the server."""
    data = request.body.encode() if request.body is not None else None
    http_request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        server.url + request.path,
        data=data,
        headers=request.headers,
        method=request.method,
    )
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def fetch_status(server: "Server", request: wrk.Request) -> int:
    return fetch(server, request)[0]


def fetch_etag(server: "Server", request: wrk.Request) -> str:
    status, headers = fetch(server, request)
    if status != 200 or "ETag" not in headers:
        raise RuntimeError(f"{request.path} on {server.name}: no ETag (HTTP {status})")
    return headers["ETag"]
