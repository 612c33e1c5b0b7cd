#!/usr/bin/env python3
"""Production's shape on one machine: HAProxy -> N application nodes (gunicorn,
started by bin/start) -> PgBouncer in transaction mode -> PostgreSQL, all nodes
sharing one Redis. Every port is a free loopback port chosen at start.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/courses_topology
    export REDIS_URL=redis://127.0.0.1:6379/5
    venv/bin/python deploy/topology.py start        # pooler, release, nodes, HAProxy
    venv/bin/python deploy/topology.py status
    venv/bin/python deploy/topology.py env          # URLs to point curl or wrk at
    venv/bin/python deploy/topology.py kill node1   # a node dies (SIGKILL)
    venv/bin/python deploy/topology.py start node1  # ... and comes back
    venv/bin/python deploy/topology.py stop

DATABASE_URL names the PostgreSQL database behind the pooler (created when
missing); the nodes get the pooler's URL as DATABASE_URL and this one as
DATABASE_DIRECT_URL, as on Neon. `start` runs the release step (bin/release:
check --deploy, migrate over the direct URL, collectstatic) before the nodes.
Other variables (STRIPE_*, CLERK_*, THROTTLE_*, WEB_CONCURRENCY...) pass
through to the nodes. The loopback has no TLS: the nodes run with
SECURE_SSL_REDIRECT=False (the release step checks the production value).

State (rendered configurations, logs, pids) lives in the run directory,
deploy/run unless --run-dir says otherwise, so several topologies can run side
by side. Needs Debian's pgbouncer and haproxy (apt-get install pgbouncer haproxy).
"""

import argparse
import json
import os
import sys
from pathlib import Path

if not __package__:
    # Run as a script (python deploy/topology.py): the repository's root on the
    # path, for the deploy package.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.components import LB, POOLER, Topology
from deploy.processes import DEPLOY, TopologyError, tools_missing

DEFAULT_RUN_DIR = DEPLOY / "run"
__all__ = ["LB", "POOLER", "Topology", "TopologyError", "main", "tools_missing"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=DEFAULT_RUN_DIR,
        help="where the state, configurations and logs go (default deploy/run)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the topology, or one component again")
    start.add_argument("component", nargs="?", help="pooler, node1, node2... or lb")
    start.add_argument("--nodes", type=int, default=2)
    start.add_argument(
        "--no-pooler",
        dest="pooled",
        action="store_false",
        help="nodes connect to PostgreSQL directly (to measure the pooler)",
    )
    start.add_argument("--no-release", dest="release", action="store_false")
    start.add_argument(
        "--check-interval", default="1s", help="HAProxy health-check interval"
    )
    start.add_argument("--pool-size", type=int, default=10)
    start.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="the PostgreSQL database behind the pooler (default: DATABASE_URL)",
    )
    start.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="the Redis the nodes share (default: REDIS_URL)",
    )
    stop = sub.add_parser("stop", help="stop the topology, or one component")
    stop.add_argument("component", nargs="?")
    stop.add_argument(
        "--drop-database",
        action="store_true",
        help="also drop the database, if `start` created it",
    )
    kill = sub.add_parser("kill", help="SIGKILL one component (a crash)")
    kill.add_argument("component")
    sub.add_parser("status", help="what runs, and HAProxy's view of the nodes")
    env = sub.add_parser("env", help="the URLs (shell exports, or --json)")
    env.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    topology = Topology(args.run_dir)
    try:
        if args.command == "start" and args.component:
            topology.start_component(args.component)
        elif args.command == "start":
            if not args.database_url:
                raise TopologyError("set DATABASE_URL (or --database-url)")
            topology.start(
                database_url=args.database_url,
                redis_url=args.redis_url,
                nodes=args.nodes,
                pooled=args.pooled,
                release=args.release,
                check_interval=args.check_interval,
                pool_size=args.pool_size,
            )
            _print_env(topology, as_json=False)
        elif args.command == "stop" and args.component:
            topology.stop_component(args.component)
        elif args.command == "stop":
            if not topology.state:
                return 0
            topology.state["drop_on_stop"] = args.drop_database
            topology.stop()
        elif args.command == "kill":
            topology.stop_component(args.component, kill=True)
        elif args.command == "status":
            if not topology.state:
                raise TopologyError(f"no topology in {topology.run_dir}")
            for name, entry in topology.status().items():
                print(name, " ".join(f"{k}={v}" for k, v in entry.items()))
        elif args.command == "env":
            _print_env(topology, as_json=args.json)
    except TopologyError as error:
        print(f"topology: {error}", file=sys.stderr)
        return 1
    return 0


def _print_env(topology: Topology, *, as_json: bool) -> None:
    summary = topology.env_summary()
    if as_json:
        print(json.dumps(summary))
        return
    for name, value in summary.items():
        if isinstance(value, str):
            print(f"export {name}={value}")


if __name__ == "__main__":
    sys.exit(main())
