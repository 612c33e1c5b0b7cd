"""The loopback topology's components (PgBouncer, the nodes, HAProxy) started,
stopped and watched: the Topology class, its state in <run dir>/state.json."""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from deploy.database import (
    database_create_if_missing,
    database_drop,
    parse_database_url,
    pooled_url,
)
from deploy.processes import (
    DEPLOY,
    ROOT,
    TopologyError,
    free_port,
    http_get,
    is_alive,
    port_open,
    reap,
    render,
    tool,
    unprivileged_user,
    wait_for,
)

STATE_FILE = "state.json"
POOLER, LB = "pooler", "lb"


class Topology:
    """The state of one topology, kept in <run dir>/state.json."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir.resolve()
        self.state: dict = {}
        path = self.run_dir / STATE_FILE
        if path.exists():
            self.state = json.loads(path.read_text())

    # --- State ---------------------------------------------------------------

    @property
    def components(self) -> dict[str, dict]:
        return self.state.setdefault("components", {})

    @property
    def nodes(self) -> list[str]:
        return [name for name in self.components if name.startswith("node")]

    def save(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / STATE_FILE
        # It holds the nodes' environment, secrets included.
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(self.state, indent=2))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.components[name]['port']}"

    def env_summary(self) -> dict[str, object]:
        """What a client or a test needs: URLs, ports and pids."""
        if not self.state:
            raise TopologyError(f"no topology in {self.run_dir} (run `start`)")
        return {
            "API_URL": self.url(LB),
            "NODE_URLS": [self.url(name) for name in self.nodes],
            "STATS_URL": f"http://127.0.0.1:{self.components[LB]['stats_port']}/",
            "DATABASE_URL": self.state["pooled_url"],
            "DATABASE_DIRECT_URL": self.state["direct_url"],
            "REDIS_URL": self.state["redis_url"],
            "PIDS": {name: c.get("pid") for name, c in self.components.items()},
            "RUN_DIR": str(self.run_dir),
        }

    # --- Start -------------------------------------------------------------------

    def start(
        self,
        *,
        database_url: str,
        redis_url: str,
        nodes: int,
        pooled: bool,
        release: bool,
        check_interval: str = "1s",
        pool_size: int = 10,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Start the pooler, run the release step, start the nodes, then HAProxy.

        `env` (default: this process's environment) is what the nodes get, with
        the topology's own DATABASE_URL, REDIS_URL, bind address... on top.
        """
        if self.state and any(is_alive(c.get("pid")) for c in self.components.values()):
            raise TopologyError(
                f"a topology is already running from {self.run_dir} (stop it first)"
            )
        if not redis_url:
            raise TopologyError("REDIS_URL is required: the nodes share it")
        direct = parse_database_url(database_url)
        if pooled:
            tool("pgbouncer")
        tool("haproxy")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)
        created = database_create_if_missing(database_url)
        self.state = {
            "direct_url": database_url,
            "database_created": created,
            "redis_url": redis_url,
            "check_interval": check_interval,
            "pool_size": pool_size,
            "components": {},
        }
        if pooled:
            self.components[POOLER] = {"port": free_port()}
        for index in range(1, nodes + 1):
            self.components[f"node{index}"] = {"port": free_port()}
        self.components[LB] = {"port": free_port(), "stats_port": free_port()}
        self.state["pooled_url"] = (
            pooled_url(direct, self.components[POOLER]["port"])
            if pooled
            else database_url
        )
        self.state["node_env"] = self._node_env(os.environ if env is None else env)
        self.save()
        try:
            if pooled:
                self.start_component(POOLER)
            if release:
                self._release()
            for name in self.nodes:
                self.start_component(name)
            self.start_component(LB)
        except BaseException:
            self.stop()
            raise

    def _node_env(self, given: Mapping[str, str]) -> dict[str, str]:
        env = {
            name: value
            for name, value in given.items()
            if name not in ("DJANGO_SETTINGS_MODULE", "GUNICORN_BIND", "PORT")
        }
        env.update(
            DEBUG="False",
            # One key for every node: an admin session opened on one is valid
            # on the others.
            SECRET_KEY=given.get("SECRET_KEY") or secrets.token_urlsafe(50),
            ALLOWED_HOSTS=given.get("ALLOWED_HOSTS") or "127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="False",
            # HAProxy in front replaces X-Forwarded-For with the address it
            # saw: one trusted proxy, so throttles and logs see the client.
            TRUSTED_PROXY_COUNT=given.get("TRUSTED_PROXY_COUNT") or "1",
            # The release step's deploy check requires an issuer. Without a
            # Clerk instance configured (CLERK_*), the nodes serve anonymous
            # requests only, and this placeholder never matches a token.
            CLERK_ISSUER=given.get("CLERK_ISSUER") or "https://clerk.topology.invalid",
            DATABASE_URL=self.state["pooled_url"],
            REDIS_URL=self.state["redis_url"],
            PATH=f"{Path(sys.executable).parent}:{given.get('PATH', '')}",
        )
        if self.state["pooled_url"] != self.state["direct_url"]:
            env["DATABASE_DIRECT_URL"] = self.state["direct_url"]
        else:
            env.pop("DATABASE_DIRECT_URL", None)
        return env

    def _release(self) -> None:
        """bin/release, with the production settings it checks (TLS redirect on)."""
        log = self.run_dir / "release.log"
        env = {**self.state["node_env"], "SECURE_SSL_REDIRECT": "True"}
        with log.open("ab") as output:
            completed = subprocess.run(
                [str(ROOT / "bin" / "release"), "--verbosity", "1"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if completed.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise TopologyError(f"the release step failed ({log}):\n{tail}")

    def start_component(self, name: str) -> None:
        """Start one component (again), on its port, with its configuration."""
        if name not in self.components:
            raise TopologyError(f"no component {name!r} in this topology")
        component = self.components[name]
        if is_alive(component.get("pid")):
            raise TopologyError(f"{name} is already running (pid {component['pid']})")
        if name == POOLER:
            command, env, ready = self._pooler_command()
        elif name == LB:
            command, env, ready = self._lb_command()
        else:
            command = [str(ROOT / "bin" / "start")]
            env = {
                **self.state["node_env"],
                "GUNICORN_BIND": f"127.0.0.1:{component['port']}",
            }
            url = self.url(name) + "/api/health/"

            def ready() -> bool:
                return http_get(url)[0] == 200

        log = self.run_dir / f"{name}.log"
        with log.open("ab") as output:
            # A session of its own: `kill` takes the node's workers with it.
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        component.update(pid=process.pid, log=str(log))
        self.save()
        wait_for(name, ready, pid=process.pid)

    def _pooler_command(self):
        direct = parse_database_url(self.state["direct_url"])
        port = self.components[POOLER]["port"]
        auth_file = render(
            "userlist.txt.template",
            self.run_dir / "userlist.txt",
            db_user=direct["user"],
            db_password=direct["password"],
        )
        config = render(
            "pgbouncer.ini.template",
            self.run_dir / "pgbouncer.ini",
            database=direct["name"],
            db_host=direct["host"],
            db_port=direct["port"],
            db_name=direct["name"],
            db_user=direct["user"],
            # PgBouncer logs in to PostgreSQL with the user list's password.
            db_password_option=(
                f" password={direct['password']}" if direct["password"] else ""
            ),
            port=port,
            auth_type="scram-sha-256" if direct["password"] else "trust",
            auth_file=auth_file,
            pool_size=self.state["pool_size"],
        )
        for path in (config, auth_file):
            path.chmod(0o600)
        command = [tool("pgbouncer")]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: it reads its files first, then
            # switches to this user.
            command += ["-u", unprivileged_user()]
        command.append(str(config))
        return command, {"PATH": os.environ.get("PATH", "")}, lambda: port_open(port)

    def _lb_command(self):
        component = self.components[LB]
        servers = [
            (name, self.components[name]["port"])
            for name in self.nodes
            if name in self.components
        ]
        config = render(
            "haproxy.cfg.template",
            self.run_dir / "haproxy.cfg",
            port=component["port"],
            stats_port=component["stats_port"],
            scheme="http",
            errors_dir=DEPLOY / "errors",
            # As config/settings.py reads ADMIN_URL: a path between slashes.
            admin_path="/"
            + (self.state["node_env"].get("ADMIN_URL") or "admin").strip().strip("/")
            + "/",
            check_interval=self.state["check_interval"],
            api_servers="\n".join(
                f"    server {name} 127.0.0.1:{port} check" for name, port in servers
            ),
            admin_servers="\n".join(
                f"    server {name} 127.0.0.1:{port} track api/{name}"
                for name, port in servers
            ),
        )
        haproxy = tool("haproxy")
        checked = subprocess.run(
            [haproxy, "-c", "-q", "-f", str(config)],
            capture_output=True,
            text=True,
            check=False,
        )
        if checked.returncode != 0:
            raise TopologyError(f"invalid {config}:\n{checked.stdout}{checked.stderr}")
        url = self.url(LB) + "/api/health/"

        def ready() -> bool:
            states = self.lb_server_states()
            return http_get(url)[0] == 200 and all(
                states.get(name) == "UP"
                for name, _ in servers
                if is_alive(self.components[name].get("pid"))
            )

        command = [haproxy, "-db", "-f", str(config)]
        return command, {"PATH": os.environ.get("PATH", "")}, ready

    # --- Stop, kill, status ----------------------------------------------------------

    def stop_component(self, name: str, *, kill: bool = False) -> None:
        component = self.components.get(name)
        if component is None:
            raise TopologyError(f"no component {name!r} in this topology")
        pid = component.get("pid")
        if is_alive(pid):
            if kill:
                sig = signal.SIGKILL
            elif name == POOLER:
                sig = signal.SIGINT  # PgBouncer: finish transactions, then exit
            else:
                sig = signal.SIGTERM  # gunicorn: graceful; HAProxy: at once
            with contextlib.suppress(ProcessLookupError):
                # The whole session: gunicorn's workers go with their master.
                os.killpg(pid, sig)
            deadline = time.monotonic() + 30
            while is_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if is_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        reap(pid)
        component["pid"] = None
        self.save()

    def stop(self) -> None:
        """Stop everything, load balancer first; drop a database `start` created."""
        for name in [LB, *self.nodes, POOLER]:
            if name in self.components:
                self.stop_component(name)
        if self.state.get("database_created") and self.state.get("drop_on_stop"):
            database_drop(self.state["direct_url"])

    def lb_server_states(self) -> dict[str, str]:
        """HAProxy's view of each node of the API backend: UP, DOWN..."""
        lb = self.components.get(LB, {})
        if not is_alive(lb.get("pid")):
            return {}
        status, body = http_get(f"http://127.0.0.1:{lb['stats_port']}/;csv")
        if status != 200:
            return {}
        states = {}
        lines = body.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "api" and row.get("svname", "").startswith("node"):
                states[row["svname"]] = row.get("status", "")
        return states

    def status(self) -> dict[str, dict]:
        states = self.lb_server_states()
        report = {}
        for name, component in self.components.items():
            entry = {
                "pid": component.get("pid"),
                "port": component["port"],
                "running": is_alive(component.get("pid")),
            }
            if name.startswith("node"):
                entry["health"] = http_get(self.url(name) + "/api/health/")[0]
                entry["lb"] = states.get(name, "")
            report[name] = entry
        return report
