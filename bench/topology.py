"""The anonymous list and detail scenarios through the loopback topology of
deploy/topology.py, always behind HAProxy: one node straight to PostgreSQL,
one node through PgBouncer (transaction mode), two nodes through PgBouncer;
with the catalog cache off, so that every request reaches the database.

The first two rows differ by the pooler alone (its cost per request); the last
two by the second node alone (the scaling). The three topologies run side by
side and are measured in turn, as the main scenarios are, so that a drift of
the machine during the run affects them alike.
"""

import dataclasses
import sys

import redis

from bench import wrk
from bench.databases import Catalog
from bench.measure import Bench, Row
from bench.scenarios import Scenario
from deploy.topology import LB, Topology, tools_missing

SCENARIO_NAMES = ("list_anon", "detail_anon")
# (label, nodes, through PgBouncer)
CONFIGURATIONS = (
    ("1 node, PostgreSQL direct", 1, False),
    ("1 node, PgBouncer", 1, True),
    ("2 nodes, PgBouncer", 2, True),
)
DIRECT, POOLED, TWO_NODES = (label for label, _, _ in CONFIGURATIONS)


@dataclasses.dataclass
class Target:
    """What Bench.measure needs of a server: a URL, a name, a worker count."""

    name: str
    url: str
    workers: int

    def worker_memory_mb(self) -> tuple[float, float]:
        return 0.0, 0.0


def unavailable() -> str | None:
    """Why the topology cannot run here, or None."""
    missing = tools_missing()
    if missing:
        return f"{' and '.join(missing)} missing (apt-get install pgbouncer haproxy)"
    return None


def run(bench: Bench, catalog: Catalog, plan: dict[str, Scenario]) -> list[Row]:
    """Rows (bench.measure.Row) for each configuration and scenario."""
    args = bench.args
    if args.redis_url:
        redis.Redis.from_url(args.redis_url).flushdb()
    # The catalog cache off: these rows compare what reaching PostgreSQL costs
    # through each topology, which cached answers would not touch.
    env = {
        **bench.env(catalog.url),
        "WEB_CONCURRENCY": str(args.workers),
        "CATALOG_CACHE_SECONDS": "0",
    }
    running: list[tuple[Target, Topology]] = []
    rows: dict[tuple[str, str], Row] = {}
    try:
        for label, nodes, pooled in CONFIGURATIONS:
            topology = Topology(bench.workdir / f"topology-{nodes}-{int(pooled)}")
            running.append((Target(label, "", args.workers * nodes), topology))
            # The benchmark's database is loaded and migrated: no release step.
            topology.start(
                database_url=catalog.url,
                redis_url=args.redis_url or "redis://127.0.0.1:6379/11",
                nodes=nodes,
                pooled=pooled,
                release=False,
                env=env,
            )
            running[-1][0].url = topology.url(LB)
        for target, _ in running:
            for name in SCENARIO_NAMES:
                _warm(bench, target, plan[name])
        for name in SCENARIO_NAMES:
            for repeat in range(args.repeat):
                order = running if repeat % 2 == 0 else running[::-1]
                for target, _ in order:
                    row = rows.setdefault(
                        (name, target.name),
                        Row(name, plan[name].label, target.name),
                    )
                    result = bench.measure(target, plan[name], duration=args.duration)
                    if result is not None:
                        row.results.append(result)
                    print(
                        f"  {name:<12} {target.name:<26} "
                        + (
                            f"{result.requests_per_second:8.1f} req/s "
                            f"p50 {result.p50_ms:.2f} ms"
                            if result
                            else "failed"
                        ),
                        file=sys.stderr,
                    )
    finally:
        for _, topology in running:
            topology.stop()
    return list(rows.values())


def _warm(bench: Bench, target: Target, scenario: Scenario) -> None:
    wrk.run(
        target.url,
        scenario.build(target),
        workdir=bench.workdir,
        duration=bench.args.warmup,
        threads=bench.args.threads,
        connections=bench.args.connections or 2 * target.workers,
    )


def table(rows: list[Row]) -> str:
    """The measured rows, each against one node reaching PostgreSQL directly."""
    found = {(row.scenario, row.server): row for row in rows if row.results}
    lines = [
        "| configuration | scenario | req/s (median) | p50 ms | p99 ms "
        "| / 1 node direct |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if not row.results:
            lines.append(f"| {row.server} | {row.label} | failed | | | |")
            continue
        base = found.get((row.scenario, DIRECT))
        ratio = f"{row.rps / base.rps:.2f}" if base else "-"
        lines.append(
            f"| {row.server} | {row.label} | {row.rps:.0f} | {row.p50:.1f} "
            f"| {row.p99:.1f} | {ratio} |"
        )
    return "\n".join(lines)


def pooler_cost(rows: list[Row]) -> str:
    """What PgBouncer adds to a request: the p50 and the server time per request
    (1 / req/s at the same concurrency) of one node with and without it."""
    found = {(row.scenario, row.server): row for row in rows if row.results}
    lines = []
    for name in SCENARIO_NAMES:
        direct, pooled = found.get((name, DIRECT)), found.get((name, POOLED))
        if not (direct and pooled):
            continue
        per_request = 1000 / pooled.rps - 1000 / direct.rps
        lines.append(
            f"- {direct.label}: p50 {pooled.p50 - direct.p50:+.2f} ms; "
            f"{per_request:+.3f} ms per request at full load "
            f"({pooled.rps:.0f} req/s through PgBouncer, {direct.rps:.0f} without)"
        )
    return "\n".join(lines)
