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
import contextlib
import dataclasses
import datetime
import io
import json
import os
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import redis

from bench import topology, wrk
from bench.load import BENCH_STUDENT, ENROLLMENT_COLUMNS, OUTLINE_LESSONS, _copy
from courses.tests.fakes.clerk import FakeClerk
from courses.tests.fakes.stripe import stripe_signature

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
FRONTEND_URL = "http://localhost:3000"
WEBHOOK_SECRET = "whsec_bench_" + "0" * 24
SIGNED_IN_STUDENT = "user_7"
# Every request comes from 127.0.0.1: the throttles' per-client history (one
# timestamp per request in the window, read and written on every request) would
# grow to a minute of benchmark traffic, far beyond what any real client has
# (at most 120 anonymous or 600 signed-in). A one-second window keeps the work
# production-sized while never refusing a request.
HIGH_RATE = "1000000000/second"
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
SCENARIOS = (
    "list_anon",
    "list_deep",
    "detail_anon",
    "revalidate_304",
    "list_signed",
    "detail_signed",
    "my_courses",
    "outline_anon",
    "lesson_signed",
    "webhook_first",
    "webhook_duplicate",
)
# SQL queries per request of the API before the catalog cache (cache off,
# docs/PERFORMANCE.md): no scenario may need more.
QUERY_BUDGET = {
    "list_anon": 1,
    "list_deep": 1,
    "detail_anon": 1,
    "revalidate_304": 1,
    "list_signed": 1,
    "detail_signed": 1,
    "my_courses": 1,
    "outline_anon": 1,
    "lesson_signed": 3,
    "webhook_first": 10,
    "webhook_duplicate": 1,
}


# --- Servers -------------------------------------------------------------------


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


# --- Databases ---------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator:
    connection = psycopg2.connect(url)
    connection.autocommit = autocommit
    try:
        yield connection
    finally:
        connection.close()


def create_database(server_url: str, name: str, *, fresh: bool) -> str:
    with connect(database_url(server_url, "postgres"), autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and fresh:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            cursor.execute(f'CREATE DATABASE "{name}"')
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with connect(database_url(server_url, "postgres"), autocommit=True) as conn:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(url: str, courses: int) -> None:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-loader"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [PYTHON, "-m", "bench.load", "--courses", str(courses), "--keep"]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


@dataclasses.dataclass
class Catalog:
    url: str
    active_ids: list[int]
    priced: list[tuple[int, int]]  # (course id, price in cents) of paying courses
    courses: int
    enrollments: int
    # The bench student's course with OUTLINE_LESSONS lessons, and its lessons.
    outline_course: int | None
    outline_lessons: list[int]

    @property
    def deep_page(self) -> int:
        """Page 200, or the middle page of a smaller catalog."""
        pages = -(-len(self.active_ids) // 20)
        return max(1, min(200, pages // 2))


def read_catalog(url: str) -> Catalog:
    with connect(url) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT id FROM courses_course WHERE is_active ORDER BY id")
        active = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT id, (price * 100)::int FROM courses_course "
            "WHERE is_active AND price > 0 ORDER BY id"
        )
        priced = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM courses_course")
        courses = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM courses_enrollment")
        enrollments = cursor.fetchone()[0]
        cursor.execute(
            "SELECT l.course_id FROM courses_lesson l "
            "JOIN courses_enrollment e ON e.course_id = l.course_id "
            "WHERE e.clerk_user_id = %s AND e.status = 'paid' AND l.is_published "
            "GROUP BY l.course_id HAVING count(*) = %s ORDER BY l.course_id LIMIT 1",
            [BENCH_STUDENT, OUTLINE_LESSONS],
        )
        found = cursor.fetchone()
        outline_course = found[0] if found else None
        cursor.execute(
            "SELECT id FROM courses_lesson WHERE course_id = %s AND NOT is_preview "
            "ORDER BY id",
            [outline_course],
        )
        lessons = [row[0] for row in cursor.fetchall()]
    return Catalog(url, active, priced, courses, enrollments, outline_course, lessons)


# --- Webhook deliveries ---------------------------------------------------------


class Webhooks:
    """Signed checkout.session.completed events, each with its pending enrollment.

    A pending enrollment is what the checkout leaves behind; the first delivery
    of the event marks it paid. Every event has its own id, session and student.
    """

    def __init__(self, catalog: Catalog, *, seed: int) -> None:
        self.catalog = catalog
        self.rng = random.Random(seed)
        self.run_id = secrets.token_hex(4)
        self.serial = 0
        # Events delivered once already: the duplicates scenario replays them.
        self.processed: list[str] = []

    def clean_up(self) -> None:
        """Remove this run's enrollments and events: the next run starts alike."""
        with connect(self.catalog.url) as conn:
            with conn.cursor() as cursor:
                students = [f"user_wh_{self.run_id}_%"]
                # Rows that refer to these enrollments first: raw SQL has no
                # cascade (orders, payments kept for review, lesson progress).
                for table in (
                    "courses_order",
                    "courses_paymentreview",
                    "courses_lessonprogress",
                ):
                    cursor.execute(
                        f"DELETE FROM {table} WHERE enrollment_id IN "  # noqa: S608
                        "(SELECT id FROM courses_enrollment "
                        "WHERE clerk_user_id LIKE %s)",
                        students,
                    )
                cursor.execute(
                    "DELETE FROM courses_enrollment WHERE clerk_user_id LIKE %s",
                    students,
                )
                deleted = cursor.rowcount
                cursor.execute(
                    "DELETE FROM courses_stripeevent WHERE id LIKE %s",
                    [f"evt_wh_{self.run_id}_%"],
                )
            conn.commit()
        if deleted:
            with connect(self.catalog.url, autocommit=True) as conn:
                conn.cursor().execute("VACUUM ANALYZE courses_enrollment")

    def new_events(self, count: int) -> list[str]:
        now = datetime.datetime.now(datetime.UTC)
        rows, events = [], []
        for _ in range(count):
            self.serial += 1
            tag = f"{self.run_id}_{self.serial}"
            course_id, cents = self.rng.choice(self.catalog.priced)
            student = f"user_wh_{tag}"
            session_id = f"cs_wh_{tag}"
            price = f"{cents // 100}.{cents % 100:02d}"
            rows.append(
                (
                    course_id,
                    student,
                    f"{student}@example.com",
                    "Webhook Student",
                    price,
                    "pending",
                    False,
                    None,
                    None,
                    session_id,
                    now,
                    None,
                    None,
                    now,
                )
            )
            events.append(
                checkout_completed(
                    event_id=f"evt_wh_{tag}",
                    session_id=session_id,
                    payment_intent_id=f"pi_wh_{tag}",
                    course_id=course_id,
                    student=student,
                    amount=cents,
                )
            )
        with connect(self.catalog.url) as conn:
            with conn.cursor() as cursor:
                _copy(cursor, "courses_enrollment", ENROLLMENT_COLUMNS, rows)
            conn.commit()
        return events


def checkout_completed(
    *,
    event_id: str,
    session_id: str,
    payment_intent_id: str,
    course_id: int,
    student: str,
    amount: int,
) -> str:
    """A Stripe `checkout.session.completed` event, as Stripe sends it."""
    created = int(time.time())
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": student,
        "created": created,
        "currency": "cad",
        "customer": f"cus_{student}",
        "customer_details": {"email": f"{student}@example.com", "name": "Webhook"},
        "livemode": False,
        "metadata": {"course_id": str(course_id), "clerk_user_id": student},
        "mode": "payment",
        "payment_intent": payment_intent_id,
        "payment_status": "paid",
        "status": "complete",
    }
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created,
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    return json.dumps(event, separators=(",", ":"))


def webhook_request(payload: str) -> wrk.Request:
    signature = stripe_signature(payload.encode(), WEBHOOK_SECRET)
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return wrk.Request("POST", "/api/webhooks/stripe/", headers, payload)


# --- Scenarios ---------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    name: str
    label: str
    servers: tuple[str, ...]
    # The bare Django scenario this one is compared with (None: no comparison).
    compare_to: str | None
    # The requests to cycle through, for the server they are sent to.
    build: Callable[["Server"], list[wrk.Request]]
    unique: bool = False
    expected_status: int = 200


def scenarios(
    catalog: Catalog, clerk: FakeClerk, webhooks: Webhooks, events_per_run: int
) -> dict[str, Scenario]:
    rng = random.Random(1)
    detail_ids = rng.sample(catalog.active_ids, min(500, len(catalog.active_ids)))
    # Clerk's default claims name no email: the API looks each user up once in
    # the Backend API (cached); the tokens outlive the run.
    signed = {"Authorization": clerk.authorization(SIGNED_IN_STUDENT, expires_in=7200)}
    student = {"Authorization": clerk.authorization(BENCH_STUDENT, expires_in=7200)}
    anonymous = (API, API_NOCACHE, BASELINE, TUTORIAL)

    def details(headers: dict[str, str]) -> list[wrk.Request]:
        return [wrk.Request("GET", f"/api/courses/{i}/", headers) for i in detail_ids]

    def revalidations(server: "Server") -> list[wrk.Request]:
        """Each detail with the ETag the server gave it: a browser or CDN asking
        whether its copy is still good."""
        return [
            wrk.Request("GET", r.path, {"If-None-Match": fetch_etag(server, r)})
            for r in details({})[:100]
        ]

    def lessons() -> list[wrk.Request]:
        return [
            wrk.Request("GET", f"/api/lessons/{i}/", student)
            for i in catalog.outline_lessons
        ]

    def duplicates() -> list[wrk.Request]:
        return [webhook_request(payload) for payload in webhooks.processed]

    items = [
        Scenario(
            "list_anon",
            "list, anonymous, page 1",
            anonymous,
            "list_anon",
            lambda _: [wrk.Request("GET", "/api/courses/")],
        ),
        Scenario(
            "list_deep",
            f"list, anonymous, page {catalog.deep_page}",
            (API_NOCACHE, BASELINE, TUTORIAL),
            "list_deep",
            lambda _: [wrk.Request("GET", f"/api/courses/?page={catalog.deep_page}")],
        ),
        Scenario(
            "detail_anon",
            "detail, anonymous",
            anonymous,
            "detail_anon",
            lambda _: details({}),
        ),
        Scenario(
            "revalidate_304",
            "detail, anonymous, If-None-Match: 304",
            (API,),
            "detail_anon",
            revalidations,
            expected_status=304,
        ),
        Scenario(
            "list_signed",
            "list, signed in",
            (API, TUTORIAL),
            "list_anon",
            lambda _: [wrk.Request("GET", "/api/courses/", signed)],
        ),
        Scenario(
            "detail_signed",
            "detail, signed in",
            (API, TUTORIAL),
            "detail_anon",
            lambda _: details(signed),
        ),
        Scenario(
            "my_courses",
            "my-courses (10 paid)",
            (API, TUTORIAL),
            None,
            lambda _: [wrk.Request("GET", "/api/my-courses/", student)],
        ),
        Scenario(
            "outline_anon",
            f"outline, anonymous ({OUTLINE_LESSONS} lessons)",
            (API, API_NOCACHE),
            "detail_anon",
            lambda _: [
                wrk.Request("GET", f"/api/courses/{catalog.outline_course}/outline/")
            ],
        ),
        Scenario(
            "lesson_signed",
            "lesson, signed in, paid",
            (API,),
            "detail_anon",
            lambda _: lessons(),
        ),
        Scenario(
            "webhook_first",
            "webhook, first delivery",
            (API,),
            None,
            lambda _: [webhook_request(e) for e in webhooks.new_events(events_per_run)],
            unique=True,
        ),
        Scenario(
            "webhook_duplicate",
            "webhook, duplicate",
            (API,),
            None,
            lambda _: duplicates(),
        ),
    ]
    return {s.name: s for s in items}


# --- Measurement -------------------------------------------------------------------


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


# --- Tables --------------------------------------------------------------------


def _ratio(row: Row, rows: list[Row]) -> float | None:
    """req/s against bare Django's answer of the same kind (its compare_to)."""
    if row.server == BASELINE or not row.compare_to or not row.results:
        return None
    for other in rows:
        if (
            other.server == BASELINE
            and other.scenario == row.compare_to
            and other.results
        ):
            return row.rps / other.rps
    return None


def _to_tutorial(row: Row, rows: list[Row]) -> float | None:
    """req/s against the tutorial's code on the same scenario."""
    if row.server not in APIS or not row.results:
        return None
    for other in rows:
        if (
            other.server == TUTORIAL
            and other.scenario == row.scenario
            and other.results
        ):
            return row.rps / other.rps
    return None


def _fmt(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def main_table(rows: list[Row]) -> str:
    lines = [
        "| scenario | server | req/s (median) | p50 ms | p99 ms | / bare "
        "| / tutorial | SQL queries/request | worker RSS (private) MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        label = SERVER_LABELS.get(row.server, row.server)
        if not row.results:
            lines.append(f"| {row.label} | {label} | failed | | | | | | |")
            continue
        lines.append(
            f"| {row.label} | {label} | {row.rps:.0f} | {row.p50:.1f} "
            f"| {row.p99:.1f} | {_fmt(_ratio(row, rows))} "
            f"| {_fmt(_to_tutorial(row, rows))} "
            f"| {row.queries if row.queries is not None else '-'} "
            f"| {row.rss_mb:.0f} ({row.uss_mb:.0f}) |"
        )
    return "\n".join(lines)


def scaling_table(by_size: dict[int, list[Row]]) -> str:
    lines = [
        "| courses | scenario | server | req/s (median) | p50 ms | p99 ms "
        "| / bare | / API at smallest size |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    smallest = min(by_size) if by_size else 0
    for size, rows in sorted(by_size.items()):
        for row in rows:
            label = SERVER_LABELS.get(row.server, row.server)
            if not row.results:
                lines.append(f"| {size:,} | {row.label} | {label} | failed | | | | |")
                continue
            growth = "-"
            if row.server in APIS:
                for first in by_size[smallest]:
                    if (first.scenario, first.server) == (
                        row.scenario,
                        row.server,
                    ) and first.results:
                        growth = f"{row.rps / first.rps:.2f}"
            lines.append(
                f"| {size:,} | {row.label} | {label} | {row.rps:.0f} "
                f"| {row.p50:.1f} | {row.p99:.1f} | {_fmt(_ratio(row, rows))} "
                f"| {growth} |"
            )
    return "\n".join(lines)


def workers_table(by_workers: dict[int, list[Row]]) -> str:
    lines = [
        "| workers | scenario | req/s (median) | p50 ms | p99 ms | / 1 worker |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    first = by_workers.get(min(by_workers)) if by_workers else None
    for workers, rows in sorted(by_workers.items()):
        for row in rows:
            if not row.results:
                lines.append(f"| {workers} | {row.label} | failed | | | |")
                continue
            base = next(
                (r for r in first or [] if r.scenario == row.scenario and r.results),
                None,
            )
            step = f"{row.rps / base.rps:.2f}" if base else "-"
            lines.append(
                f"| {workers} | {row.label} | {row.rps:.0f} | {row.p50:.1f} "
                f"| {row.p99:.1f} | {step} |"
            )
    return "\n".join(lines)


def connections_table(persistent: list[Row], per_request: list[Row]) -> str:
    lines = [
        "| DB_CONN_MAX_AGE | scenario | req/s (median) | p50 ms | p99 ms |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for setting, rows in (("600", persistent), ("0", per_request)):
        for row in rows:
            if row.server != API_NOCACHE or row.scenario not in (
                "list_anon",
                "detail_anon",
            ):
                continue
            if not row.results:
                lines.append(f"| {setting} | {row.label} | failed | | |")
                continue
            lines.append(
                f"| {setting} | {row.label} | {row.rps:.0f} | {row.p50:.1f} "
                f"| {row.p99:.1f} |"
            )
    return "\n".join(lines)


def targets(rows: list[Row], by_size: dict[int, list[Row]]) -> str:
    """Each target of docs/PERFORMANCE.md on the main table: met or MISSED."""
    found = {(r.scenario, r.server): r for r in rows if r.results}
    checks = []

    def rps(scenario: str, server: str) -> float | None:
        row = found.get((scenario, server))
        return row.rps if row else None

    def check(label: str, value: float | None, limit: float, at_most: bool = False):
        if value is None:
            checks.append(f"- {label}: not measured")
            return
        ok = value <= limit if at_most else value >= limit
        sign = "≤" if at_most else "≥"
        checks.append(
            f"- {label}: {value:.2f} ({sign} {limit}) {'met' if ok else 'MISSED'}"
        )

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    bare = {name: rps(name, BASELINE) for name in ("list_anon", "detail_anon")}
    for name, kind in (("list_anon", "list"), ("detail_anon", "detail")):
        check(
            f"anonymous {kind}, cache warm / bare",
            ratio(rps(name, API), bare[name]),
            1.2,
        )
        check(
            f"anonymous {kind}, cache off / bare",
            ratio(rps(name, API_NOCACHE), bare[name]),
            0.6,
        )
    check(
        "deep page, cache off / bare deep page",
        ratio(rps("list_deep", API_NOCACHE), rps("list_deep", BASELINE)),
        0.5,
    )
    check(
        "deep page / page 1, both cache off (within 20 %)",
        ratio(rps("list_deep", API_NOCACHE), rps("list_anon", API_NOCACHE)),
        0.8,
    )
    check(
        "signed-in detail / bare anonymous detail",
        ratio(rps("detail_signed", API), bare["detail_anon"]),
        0.5,
    )
    check(
        "304 revalidation / bare anonymous detail",
        ratio(rps("revalidate_304", API), bare["detail_anon"]),
        1.5,
    )
    # Never slower than the tutorial's code, in any scenario both serve.
    for row in rows:
        if row.server in APIS and (row.scenario, TUTORIAL) in found:
            check(
                f"{row.label}, {SERVER_LABELS[row.server]} / tutorial",
                _to_tutorial(row, rows),
                1.0,
            )
    if len(by_size) >= 2:
        sizes = sorted(by_size)

        def list_at(size: int) -> float | None:
            for row in by_size[size]:
                if row.scenario == "list_anon" and row.server in APIS and row.results:
                    return row.rps
            return None

        check(
            f"anonymous list (cache off) at {sizes[-1]:,} / at {sizes[0]:,} courses",
            ratio(list_at(sizes[-1]), list_at(sizes[0])),
            0.5,
        )
    for scenario, limit in (("webhook_duplicate", 3), ("webhook_first", 10)):
        row = found.get((scenario, API))
        value = float(row.queries) if row and row.queries is not None else None
        check(f"SQL queries, {scenario.replace('_', ' ')}", value, limit, at_most=True)
    over = [
        f"{row.scenario} on {row.server}: {row.queries} > {QUERY_BUDGET[row.scenario]}"
        for row in rows
        if row.server in APIS
        and row.queries is not None
        and row.queries > QUERY_BUDGET.get(row.scenario, row.queries)
    ]
    measured = [row for row in rows if row.server in APIS and row.queries is not None]
    if measured:
        checks.append(
            "- SQL queries per request, unchanged or lower in every scenario: "
            + ("met" if not over else "MISSED (" + "; ".join(over) + ")")
        )
    api_rss = max((r.rss_mb for r in rows if r.server in APIS), default=0)
    base_rss = max((r.rss_mb for r in rows if r.server == BASELINE), default=0)
    check("worker RSS / bare", ratio(api_rss, base_rss), 1.5, at_most=True)
    api_uss = max((r.uss_mb for r in rows if r.server in APIS), default=0)
    base_uss = max((r.uss_mb for r in rows if r.server == BASELINE), default=0)
    if api_uss and base_uss:
        checks.append(
            f"- (for information) worker private memory / bare: "
            f"{api_uss / base_uss:.2f} ({api_uss:.0f} MB / {base_uss:.0f} MB)"
        )
    signed_list = ratio(rps("list_signed", API), bare["list_anon"])
    if signed_list is not None:
        checks.append(
            f"- (for information) signed-in list / bare anonymous list: "
            f"{signed_list:.2f}"
        )
    return "\n".join(checks)


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
    memory_gb = int(meminfo[1]) / 1024 / 1024
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    wrk_banner = subprocess.run(
        ["wrk", "-v"], capture_output=True, text=True, check=False
    ).stdout.split()
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GB RAM, "
        f"Python {platform.python_version()}, {' '.join(wrk_banner[:2])}"
    )


def postgres_version(url: str) -> str:
    with connect(url) as conn:
        cursor = conn.cursor()
        cursor.execute("SHOW server_version")
        return "PostgreSQL " + cursor.fetchone()[0]


# --- Command line ---------------------------------------------------------------------


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
