"""Benchmark the API against bare Django and the tutorial's code, and print the tables.

    python -m bench.run                  # full run (10,000 courses, then 1k/10k/100k)
    python -m bench.run --smoke          # tiny data, a few seconds per scenario (CI)
    python -m bench.run --topology-only  # only the multi-node rows (deploy/topology.py)
    python -m bench.run --scenarios list_anon,revalidate_304 --courses 1000 \
        --sizes '' --worker-steps '' --no-connection-step --no-topology --no-sync

The main table runs every server with the README's production command
(gunicorn -c config/gunicorn.py: threaded workers); a second table repeats
the anonymous list and detail with gunicorn's sync workers. The API runs
twice side by side: with its catalog cache (as deployed) and with
CATALOG_CACHE_SECONDS=0.

PostgreSQL is required: BENCH_DATABASE_URL (or --database-url) names the server;
the runner creates and fills its own databases there (<prefix>_10k, <prefix>_1k,
<prefix>_100k; <prefix>_smoke, dropped afterwards), the prefix being
BENCH_DATABASE_PREFIX or --database-prefix (default: bench). See
docs/PERFORMANCE.md.
"""

import argparse
import datetime
import io
import os
import sys
from collections.abc import Callable

import redis

from bench import topology
from bench.databases import Catalog, create_database, drop_database, load, read_catalog
from bench.measure import Bench, Row
from bench.report import (
    connections_table,
    machine,
    main_table,
    postgres_version,
    scaling_table,
    targets,
    workers_table,
)
from bench.scenarios import SCENARIOS, scenarios
from bench.servers import API, API_NOCACHE, BASELINE, RESULTS, ROOT, TUTORIAL
from bench.webhooks import Webhooks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, a few seconds")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL server on which the <prefix>_* databases are created",
    )
    parser.add_argument(
        "--database-prefix",
        default=os.environ.get("BENCH_DATABASE_PREFIX", "bench"),
        help="name prefix of the databases the runner creates (default: bench)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"),
        help="Redis database shared by the workers; FLUSHed before each server start",
    )
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="scaling sizes ('' to skip)"
    )
    parser.add_argument(
        "--worker-steps", default="1,2,4", help="worker counts ('' to skip)"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated main scenarios to run (default: all)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--peers",
        default=f"{BASELINE},{TUTORIAL}",
        help="servers the API is compared with: baseline, tutorial (default: both)",
    )
    parser.add_argument(
        "--sync",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure the anonymous list and detail with gunicorn's sync "
        "workers (default: on, off with --smoke)",
    )
    parser.add_argument(
        "--preload",
        action="store_true",
        help="start every server with gunicorn --preload (not the README's command)",
    )
    parser.add_argument(
        "--no-connection-step",
        dest="connection_step",
        action="store_false",
        help="skip the DB_CONN_MAX_AGE=0 measurement",
    )
    parser.add_argument(
        "--topology",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the anonymous list and detail through HAProxy, PgBouncer "
        "and 1 or 2 nodes (default: on, off with --smoke)",
    )
    parser.add_argument(
        "--topology-only",
        action="store_true",
        help="run only the multi-node rows (implies --topology)",
    )
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--connections", type=int, default=0, help="wrk connections (2 per worker)"
    )
    parser.add_argument(
        "--events", type=int, default=0, help="unique webhook events per measurement"
    )
    parser.add_argument("--duplicates", type=int, default=100)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated scenarios to profile in-process with pyinstrument "
        "(300 requests each; bench/results/profile-*.txt)",
    )
    args = parser.parse_args(argv)
    args.profile = [name for name in args.profile.split(",") if name]
    args.scenarios = [name for name in args.scenarios.split(",") if name]
    unknown = set(args.scenarios + args.profile) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.peers = tuple(name for name in args.peers.split(",") if name)
    if set(args.peers) - {BASELINE, TUTORIAL}:
        parser.error("--peers takes baseline and tutorial")
    if args.smoke:
        args.courses = 200
        args.sizes = ""
        args.worker_steps = ""
        args.connection_step = False
        args.duration = 2
        args.warmup = 1
        args.repeat = 1
        args.duplicates = 20
    if args.redis_url:
        try:
            redis.Redis.from_url(args.redis_url, socket_timeout=2).ping()
        except redis.RedisError as error:
            if not args.smoke:
                parser.error(f"Redis at {args.redis_url} is unreachable: {error}")
            # The smoke run only checks answers: per-process caches will do.
            print(f"Redis unreachable ({error}); running without it", file=sys.stderr)
            args.redis_url = ""
    if args.topology_only:
        args.topology = True
        args.sync = False
        args.sizes = ""
        args.worker_steps = ""
        args.connection_step = False
    elif args.topology is None:
        args.topology = not args.smoke
    if args.sync is None:
        args.sync = not args.smoke
    if not args.events:
        # Comfortably more than two workers can take in one measurement.
        args.events = int(max(2000, 800 * args.duration))
    return args


def run_topology(bench: Bench, catalog: Catalog, emit: Callable[..., None]) -> None:
    """The multi-node rows (bench/topology.py), or a failure saying what is missing."""
    reason = topology.unavailable()
    if reason:
        bench.fail(f"topology: {reason}; or run with --no-topology")
        return
    print("Topology: HAProxy, PgBouncer, 1 or 2 nodes", file=sys.stderr)
    plan = scenarios(catalog, bench.clerk, Webhooks(catalog, seed=bench.args.seed), 0)
    rows = topology.run(bench, catalog, plan)
    emit("## Past one machine: HAProxy, PgBouncer in transaction mode, 1 or 2 nodes")
    emit()
    emit(
        f"Each node: bin/start (config/gunicorn.py), WEB_CONCURRENCY="
        f"{bench.args.workers}; wrk with 2 connections per worker of the "
        f"topology, through HAProxy."
    )
    emit()
    emit(topology.table(rows))
    emit()
    emit("What PgBouncer adds to a request (1 node, with and without it):")
    emit()
    emit(topology.pooler_cost(rows))
    emit()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    started = datetime.datetime.now(datetime.UTC)
    output = io.StringIO()

    def emit(text: str = "") -> None:
        print(text)
        output.write(text + "\n")

    prefix = args.database_prefix
    main_name = f"{prefix}_smoke" if args.smoke else f"{prefix}_{args.courses // 1000}k"
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    steps = [int(s) for s in args.worker_steps.split(",") if s.strip()]
    servers = (API, API_NOCACHE, *args.peers)
    try:
        url = create_database(args.database_url, main_name, fresh=args.smoke)
        load(url, args.courses)
        catalog = read_catalog(url)
        emit(f"# Benchmark, {started:%Y-%m-%d %H:%M} UTC")
        emit()
        emit(f"Machine: {machine()}, {postgres_version(url)}.")
        emit(
            f"Database {main_name}: {catalog.courses:,} courses "
            f"({len(catalog.active_ids):,} active), "
            f"{catalog.enrollments:,} enrollments."
        )
        sync = ", then gunicorn's sync workers for the second table"
        emit(
            f"Every server: gunicorn -c config/gunicorn.py (the README's production "
            f"command: {args.workers} threaded workers){sync if args.sync else ''}"
            f"{' (--preload)' if args.preload else ''}; wrk -t{args.threads} "
            f"-c{args.connections or 2 * args.workers}, {args.duration:g} s x "
            f"{args.repeat} per row, interleaved; medians. / bare: against bare "
            "Django's anonymous answer of the same kind; / tutorial: against the "
            "tutorial's code on the same scenario."
        )
        emit()
        names = [name for name in SCENARIOS if name in args.scenarios]
        rows = []
        if not args.topology_only:
            print("Main scenarios (config/gunicorn.py)", file=sys.stderr)
            rows = bench.run_catalog(
                catalog, names, workers=args.workers, servers_wanted=servers
            )
            emit(f"## Main scenarios, {catalog.courses:,} courses, config/gunicorn.py")
            emit()
            emit(main_table(rows))
            emit()

        sync_names = [n for n in ("list_anon", "detail_anon") if n in names]
        if args.sync and sync_names:
            print("Sync workers", file=sys.stderr)
            sync_rows = bench.run_catalog(
                catalog,
                sync_names,
                workers=args.workers,
                servers_wanted=servers,
                queries=False,
                threaded=False,
            )
            emit(f"## Sync workers ({args.workers}, gunicorn's default class)")
            emit()
            emit(main_table(sync_rows))
            emit()

        by_size: dict[int, list[Row]] = {}
        scaled = (API_NOCACHE, BASELINE)
        for size in sizes:
            print(f"Scaling: {size} courses", file=sys.stderr)
            if size == args.courses:
                by_size[size] = [
                    r
                    for r in rows
                    if r.scenario in ("list_anon", "detail_anon") and r.server in scaled
                ]
                continue
            name = f"{prefix}_{size // 1000}k" if size >= 1000 else f"{prefix}_{size}"
            size_url = create_database(args.database_url, name, fresh=False)
            load(size_url, size)
            by_size[size] = bench.run_catalog(
                read_catalog(size_url),
                ["list_anon", "detail_anon"],
                workers=args.workers,
                servers_wanted=scaled,
                queries=False,
            )
        if by_size:
            emit("## Scaling: anonymous list and detail by catalog size, cache off")
            emit()
            emit(scaling_table(by_size))
            emit()

        by_workers: dict[int, list[Row]] = {}
        for workers in steps:
            print(f"Workers: {workers}", file=sys.stderr)
            by_workers[workers] = bench.run_catalog(
                catalog,
                ["list_anon"],
                workers=workers,
                servers_wanted=(API_NOCACHE,),
                queries=False,
            )
        if by_workers:
            emit(
                "## Workers: API, anonymous list, cache off "
                "(wrk: 2 connections per worker)"
            )
            emit()
            emit(workers_table(by_workers))
            emit()

        if args.connection_step:
            print("Connections: DB_CONN_MAX_AGE=0", file=sys.stderr)
            per_request = bench.run_catalog(
                catalog,
                ["list_anon", "detail_anon"],
                workers=args.workers,
                servers_wanted=(API_NOCACHE,),
                queries=False,
                extra_env={"DB_CONN_MAX_AGE": "0"},
            )
            emit(
                "## Database connections: API, cache off, persistent (600 s) or "
                "per request (0)"
            )
            emit()
            emit(connections_table(rows, per_request))
            emit()

        if args.topology:
            run_topology(bench, catalog, emit)

        if rows:
            emit("## Targets")
            emit()
            emit(targets(rows, by_size))
    finally:
        bench.clerk.stop()
        if args.smoke:
            drop_database(args.database_url, main_name)

    RESULTS.mkdir(parents=True, exist_ok=True)
    report = RESULTS / f"{started:%Y%m%d-%H%M%S}{'-smoke' if args.smoke else ''}.md"
    report.write_text(output.getvalue())
    print(f"\nSaved to {report.relative_to(ROOT)}", file=sys.stderr)
    if bench.failures:
        print(f"\n{len(bench.failures)} failure(s):", file=sys.stderr)
        for failure in bench.failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
