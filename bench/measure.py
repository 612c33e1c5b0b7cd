"""The measurements: Bench starts the servers for one catalog, warms them up,
counts each scenario's SQL queries in-process (bench/queries.py) and runs wrk
on every scenario and server in turn, keeping a Row of results for each pair.
"""

import argparse
import dataclasses
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import redis

from bench import wrk
from bench.databases import Catalog
from bench.load import BENCH_STUDENT
from bench.scenarios import SIGNED_IN_STUDENT, Scenario, scenarios
from bench.servers import (
    API,
    API_NOCACHE,
    APPS,
    PYTHON,
    RESULTS,
    ROOT,
    Server,
    fetch_status,
    free_port,
)
from bench.webhooks import WEBHOOK_SECRET, Webhooks, webhook_request
from courses.tests.fakes.clerk import FakeClerk

FRONTEND_URL = "http://localhost:3000"
# Every request comes from 127.0.0.1: the throttles' per-client history (one
# timestamp per request in the window, read and written on every request) would
# grow to a minute of benchmark traffic, far beyond what any real client has
# (at most 120 anonymous or 600 signed-in). A one-second window keeps the work
# production-sized while never refusing a request.
HIGH_RATE = "1000000000/second"


@dataclasses.dataclass
class Row:
    scenario: str
    label: str
    server: str
    results: list[wrk.Result] = dataclasses.field(default_factory=list)
    rss_mb: float = 0.0
    uss_mb: float = 0.0
    queries: int | None = None
    compare_to: str | None = None

    @property
    def rps(self) -> float:
        return statistics.median(r.requests_per_second for r in self.results)

    @property
    def p50(self) -> float:
        return statistics.median(r.p50_ms for r in self.results)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99_ms for r in self.results)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.failures: list[str] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-"))
        self.clerk = FakeClerk(authorized_party=FRONTEND_URL).start()
        for user_id in (SIGNED_IN_STUDENT, BENCH_STUDENT):
            self.clerk.add_user(
                user_id, email=f"{user_id}@example.com", first_name="Bench"
            )
        self.secret_key = secrets.token_urlsafe(50)

    def env(self, url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DEBUG="False",
            SECRET_KEY=self.secret_key,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="False",
            DATABASE_URL=url,
            REDIS_URL=self.args.redis_url,
            FRONTEND_URL=FRONTEND_URL,
            THROTTLE_ANON_RATE=HIGH_RATE,
            THROTTLE_USER_RATE=HIGH_RATE,
            THROTTLE_CHECKOUT_RATE=HIGH_RATE,
            **self.clerk.env(),
            STRIPE_SECRET_KEY="sk_test_bench",
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            # Nothing listens there: a webhook that called Stripe would fail.
            STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}",
        )
        return env

    def servers(
        self,
        url: str,
        workers: int,
        extra_env: dict[str, str],
        wanted: tuple[str, ...],
        *,
        threaded: bool,
    ) -> dict[str, Server]:
        # Cached counts, answers and JWKS belong to one database: start empty.
        if self.args.redis_url:
            redis.Redis.from_url(self.args.redis_url).flushdb()
        env = {**self.env(url), **extra_env}
        options = ("--preload",) if self.args.preload else ()
        servers = {}
        for name in wanted:
            app, _settings = APPS[name]
            server_env = dict(env)
            if name == API_NOCACHE:
                server_env["CATALOG_CACHE_SECONDS"] = "0"
            servers[name] = Server(
                name, app, server_env, workers, options, threaded=threaded
            )
        return servers

    def fail(self, message: str) -> None:
        print(f"FAILED: {message}", file=sys.stderr)
        self.failures.append(message)

    def measure(
        self, server: Server, scenario: Scenario, *, duration: float
    ) -> wrk.Result | None:
        items = scenario.build(server)
        if not items:
            self.fail(f"{scenario.name} on {server.name}: no requests to send")
            return None
        probe = items.pop() if scenario.unique else items[0]
        status = fetch_status(server, probe)
        if status != scenario.expected_status:
            self.fail(f"{scenario.name} on {server.name}: HTTP {status}")
            return None
        result = wrk.run(
            server.url,
            items,
            workdir=self.workdir,
            duration=duration,
            threads=self.args.threads,
            connections=self.args.connections or 2 * server.workers,
            unique=scenario.unique,
            expected_status=scenario.expected_status,
        )
        if result.non_200 or result.socket_errors:
            self.fail(
                f"{scenario.name} on {server.name}: {result.non_200} answers other "
                f"than {scenario.expected_status}, {result.socket_errors} socket errors"
            )
        if scenario.unique and result.wrapped:
            self.fail(f"{scenario.name}: ran out of unique events; raise --events")
        return result

    def warm(self, servers: dict[str, Server], plan: dict[str, Scenario]) -> None:
        for scenario in plan.values():
            if scenario.unique:
                continue
            for name in scenario.servers:
                if name in servers:
                    items = scenario.build(servers[name])
                    if items:
                        wrk.run(
                            servers[name].url,
                            items,
                            workdir=self.workdir,
                            duration=self.args.warmup,
                            threads=self.args.threads,
                            connections=self.args.connections
                            or 2 * servers[name].workers,
                            expected_status=scenario.expected_status,
                        )

    def prepare_webhooks(self, server: Server, webhooks: Webhooks) -> None:
        """Deliver a first batch of events: warm-up, and the duplicates' source."""
        for payload in webhooks.new_events(self.args.duplicates):
            status = fetch_status(server, webhook_request(payload))
            if status != 200:
                self.fail(f"webhook warm-up delivery: HTTP {status}")
                return
            webhooks.processed.append(payload)

    def count_queries(
        self, server: Server, plan: dict[str, Scenario], webhooks: Webhooks
    ) -> dict[str, int]:
        specs = {}
        for scenario in plan.values():
            if server.name not in scenario.servers:
                continue
            if scenario.name == "webhook_first":
                first, second = webhooks.new_events(2)
                warm = [webhook_request(first)]
                measure = webhook_request(second)
            elif scenario.name == "webhook_duplicate":
                (payload,) = webhooks.new_events(1)
                warm = [webhook_request(payload)]
                measure = webhook_request(payload)
            else:
                measure = scenario.build(server)[0]
                # A revalidation is counted on a cached answer: the warm-up
                # request is the plain GET that caches it.
                plain = dataclasses.replace(measure, headers={})
                warm = [plain if scenario.expected_status == 304 else measure]
            specs[scenario.name] = {
                "warm": [dataclasses.asdict(r) for r in warm],
                "measure": dataclasses.asdict(measure),
                "expected_status": scenario.expected_status,
            }
        RESULTS.mkdir(parents=True, exist_ok=True)
        plan_path = self.workdir / f"queries-{server.name}.json"
        plan_path.write_text(json.dumps(specs))
        completed = self._in_process(server, [str(plan_path)])
        if completed.returncode != 0:
            self.fail(f"query count on {server.name}: {completed.stderr[-2000:]}")
            return {}
        counts = json.loads(completed.stdout)
        (RESULTS / f"queries-{server.name}.json").write_text(
            json.dumps(counts, indent=2)
        )
        for name, count in counts.items():
            if count["status"] != specs[name]["expected_status"]:
                self.fail(f"{name} in-process on {server.name}: HTTP {count['status']}")
        for name in self.args.profile:
            if name not in specs or name == "webhook_first":
                continue
            profiled = self._in_process(
                server, [str(plan_path), "--only", name, "--profile", "300"]
            )
            path = RESULTS / f"profile-{server.name}-{name}.txt"
            path.write_text(profiled.stderr)
            print(f"  profile of {name} on {server.name}: {path}", file=sys.stderr)
        return {name: count["queries"] for name, count in counts.items()}

    def _in_process(
        self, server: Server, arguments: list[str]
    ) -> subprocess.CompletedProcess:
        _app, settings = APPS[server.name]
        return subprocess.run(
            [PYTHON, "-m", "bench.queries", *arguments],
            cwd=ROOT,
            env={**server.env, "DJANGO_SETTINGS_MODULE": settings},
            capture_output=True,
            text=True,
            check=False,
        )

    def run_catalog(
        self,
        catalog: Catalog,
        names: list[str],
        *,
        workers: int,
        servers_wanted: tuple[str, ...],
        queries: bool = True,
        extra_env: dict[str, str] | None = None,
        threaded: bool = True,
    ) -> list[Row]:
        webhooks = Webhooks(catalog, seed=self.args.seed)
        plan = scenarios(catalog, self.clerk, webhooks, self.args.events)
        needed = {name for n in names for name in plan[n].servers}
        servers = self.servers(
            catalog.url,
            workers,
            extra_env or {},
            tuple(name for name in servers_wanted if name in needed),
            threaded=threaded,
        )
        rows: dict[tuple[str, str], Row] = {}
        try:
            for server in servers.values():
                server.start()
            self.warm(servers, {n: plan[n] for n in names})
            if API in servers and "webhook_duplicate" in names:
                self.prepare_webhooks(servers[API], webhooks)
            counts = {}
            if queries:
                for server in servers.values():
                    counts[server.name] = self.count_queries(
                        server, {n: plan[n] for n in names}, webhooks
                    )
            for name in names:
                scenario = plan[name]
                order = [s for s in servers.values() if s.name in scenario.servers]
                for repeat in range(self.args.repeat):
                    for server in order if repeat % 2 == 0 else order[::-1]:
                        row = rows.setdefault(
                            (name, server.name),
                            Row(
                                name,
                                scenario.label,
                                server.name,
                                compare_to=scenario.compare_to,
                                queries=counts.get(server.name, {}).get(name),
                            ),
                        )
                        result = self.measure(
                            server, scenario, duration=self.args.duration
                        )
                        if result is not None:
                            row.results.append(result)
                        rss, uss = server.worker_memory_mb()
                        row.rss_mb = max(row.rss_mb, rss)
                        row.uss_mb = max(row.uss_mb, uss)
                        print(
                            f"  {name:<18} {server.name:<11} "
                            + (
                                f"{result.requests_per_second:8.1f} req/s "
                                f"p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms"
                                if result
                                else "failed"
                            ),
                            file=sys.stderr,
                        )
        finally:
            for server in servers.values():
                server.stop()
            webhooks.clean_up()
        return list(rows.values())
