"""The loopback topology's helpers for processes and ports: the tools it runs,
free ports, liveness and readiness checks, rendered configurations."""

import contextlib
import os
import pwd
import shutil
import socket
import string
import time
import urllib.error
import urllib.request
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
MISSING_TOOLS = "apt-get install pgbouncer haproxy"
START_TIMEOUT = 60.0


class TopologyError(Exception):
    """Something the person running the topology must fix; printed, exit 1."""


def tool(name: str) -> str:
    """The path of pgbouncer or haproxy (Debian puts them in /usr/sbin)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise TopologyError(f"{name} is not installed ({MISSING_TOOLS})")
    return found


def tools_missing() -> list[str]:
    """The tools this machine lacks, for tests and the benchmark to skip on."""
    missing = []
    for name in ("pgbouncer", "haproxy"):
        try:
            tool(name)
        except TopologyError:
            missing.append(name)
    return missing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_alive(pid: int | None) -> bool:
    """True for a running process (a zombie nobody reaped yet is not running)."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """Status and body of a GET; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


def wait_for(what: str, check, timeout: float = START_TIMEOUT, pid: int = 0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid and not is_alive(pid):
            raise TopologyError(f"{what} exited during start-up")
        time.sleep(0.1)
    raise TopologyError(f"{what} not ready after {timeout:.0f} s")


def render(template: str, target: Path, **values: object) -> Path:
    text = string.Template((DEPLOY / template).read_text()).substitute(values)
    target.write_text(text)
    return target


def unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise TopologyError("no unprivileged user (postgres, nobody) to run PgBouncer as")


def reap(pid: int | None) -> None:
    # Started by this very process (tests, the benchmark): collect the exit
    # status so no zombie is left behind.
    if pid:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
