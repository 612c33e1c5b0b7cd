"""The product on production's shape: HAProxy -> two gunicorn nodes -> PgBouncer
in transaction mode -> PostgreSQL, Redis shared, all started by
deploy/topology.py on loopback ports.

Run with `pytest -m topology` and DATABASE_URL naming a PostgreSQL server (the
topology creates its own database there); .ci/topology does. The fake Stripe
and Clerk run in this process; the nodes reach them through STRIPE_API_BASE and
CLERK_JWKS_URL. The database's default time zone is not UTC, so every
timestamp read through the pooler shows PgBouncer gives each client its own
session time zone back, as Django needs.
"""

import contextlib
import dataclasses
import datetime
import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest
import redis
import requests

from courses.tests.fakes.clerk import JWKS_PATH, ClerkDelivery, FakeClerk
from courses.tests.fakes.stripe import FakeStripe, WebhookDelivery
from deploy.topology import tools_missing

pytestmark = pytest.mark.topology

BASE_DIR = Path(__file__).resolve().parents[2]
TOPOLOGY = BASE_DIR / "deploy" / "topology.py"
REDIS_URL = os.environ.get("TOPOLOGY_REDIS_URL") or "redis://127.0.0.1:6379/5"
CHECKOUT_RATE = 5
URLS = {
    "success_url": "http://localhost:3000/success",
    "cancel_url": "http://localhost:3000/cancel",
}
# HAProxy's or a node's answer while a node or the pooler is lost.
UNAVAILABLE = {502, 503, 504}


class GatedStripe(FakeStripe):
    """The fake Stripe, able to hold session lists until N callers have asked,
    so that two reconcile runs work through the same sessions at once."""

    list_gate: threading.Barrier | None = None

    def _handle(self, handler, method: str) -> None:
        gate = self.list_gate
        is_list = urlsplit(handler.path).path == "/v1/checkout/sessions"
        if gate is not None and method == "GET" and is_list:
            with contextlib.suppress(threading.BrokenBarrierError):
                gate.wait(timeout=60)
        super()._handle(handler, method)


class Topology:
    """A running topology, driven through deploy/topology.py's command line."""

    def __init__(self, run_dir: Path, env: dict[str, str]) -> None:
        self.run_dir = run_dir
        self.env = env
        self.info: dict[str, Any] = {}

    def cli(self, *args: str) -> str:
        """Run `deploy/topology.py <args>`, then read its URLs and pids again."""
        completed = self._run(*args)
        assert completed.returncode == 0, (
            f"topology {' '.join(args)} failed:\n{completed.stdout}"
            f"{completed.stderr}\n{self.logs()}"
        )
        self.info = json.loads(self._run("env", "--json").stdout)
        return completed.stdout

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [sys.executable, str(TOPOLOGY), "--run-dir", str(self.run_dir), *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def logs(self) -> str:
        tails = []
        for log in sorted(self.run_dir.glob("*.log")):
            tails.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
        return "\n".join(tails)

    @property
    def api(self) -> str:
        return self.info["API_URL"]

    @property
    def nodes(self) -> list[str]:
        return self.info["NODE_URLS"]

    @property
    def pids(self) -> dict[str, int | None]:
        return self.info["PIDS"]

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the database directly (not through the pooler)."""
        with contextlib.closing(
            psycopg2.connect(self.info["DATABASE_DIRECT_URL"])
        ) as connection:
            cursor = connection.cursor()
            cursor.execute(query, params)
            return cursor.fetchall()

    def pooler(self, command: str) -> list[dict[str, Any]]:
        """A command of PgBouncer's admin console (SHOW POOLS...)."""
        url = urlsplit(self.info["DATABASE_URL"])._replace(path="/pgbouncer")
        connection = psycopg2.connect(url.geturl())
        connection.autocommit = True
        try:
            cursor = connection.cursor()
            cursor.execute(command)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            connection.close()

    def lb_states(self) -> dict[str, str]:
        body = requests.get(self.info["STATS_URL"] + ";csv", timeout=5).text
        lines = body.splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == "api" and row["svname"].startswith("node")
        }

    def manage(self, *args: str) -> subprocess.Popen:
        """A management command on a node: the nodes' environment and database."""
        state = json.loads((self.run_dir / "state.json").read_text())
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=state["node_env"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _skip_unless_possible() -> str:
    missing = tools_missing()
    if missing:
        pytest.skip(
            f"needs {' and '.join(missing)} (apt-get install pgbouncer haproxy)"
        )
    server = os.environ.get("DATABASE_URL", "")
    if urlsplit(server).scheme not in ("postgres", "postgresql"):
        pytest.skip("needs a PostgreSQL server in DATABASE_URL")
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {REDIS_URL} (apt-get install redis-server)")
    return server


@contextlib.contextmanager
def _database(server: str) -> Iterator[str]:
    """A new database whose default time zone is not UTC; dropped afterwards."""
    name = f"topology_{secrets.token_hex(4)}"
    parts = urlsplit(server)
    admin = psycopg2.connect(parts._replace(path="/postgres").geturl())
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    admin.cursor().execute(
        f"ALTER DATABASE \"{name}\" SET timezone TO 'America/Toronto'"
    )
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def stripe() -> Iterator[GatedStripe]:
    fake = GatedStripe().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def clerk() -> Iterator[FakeClerk]:
    with FakeClerk() as fake:
        yield fake


@pytest.fixture(scope="module")
def topology(tmp_path_factory, stripe, clerk) -> Iterator[Topology]:
    server = _skip_unless_possible()
    redis.Redis.from_url(REDIS_URL).flushdb()
    with _database(server) as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FRONTEND_URL": "http://localhost:3000",
            "THROTTLE_ANON_RATE": "100000/minute",
            "THROTTLE_USER_RATE": "100000/minute",
            "THROTTLE_CHECKOUT_RATE": f"{CHECKOUT_RATE}/minute",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            "STRIPE_SECRET_KEY": "sk_test_fake",
            "STRIPE_API_BASE": stripe.base_url,
            "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
            "STRIPE_MAX_NETWORK_RETRIES": "0",
            **clerk.env(),
        }
        running = Topology(tmp_path_factory.mktemp("topology"), env)
        running.cli("start", "--check-interval", "500ms")
        try:
            seeded = running.manage("create_test_data")
            assert seeded.wait(timeout=120) == 0, seeded.stdout.read()
            yield running
        finally:
            running.cli("stop")


# --- Helpers ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Student:
    user_id: str
    headers: dict[str, str]


def _student(clerk: FakeClerk, name: str) -> Student:
    """A signed-in student: a real session token with an email claim."""
    user_id = f"user_{name}{secrets.token_hex(4)}"
    token = clerk.issue_token(user_id, email=f"{user_id}@example.com", expires_in=600)
    return Student(user_id, {"Authorization": f"Bearer {token}"})


def _course(topology: Topology, slug: str) -> dict[str, Any]:
    courses = requests.get(f"{topology.api}/api/courses/", timeout=10).json()
    return next(c for c in courses["results"] if c["slug"] == slug)


def _checkout(base: str, course_id: int, student: Student) -> requests.Response:
    return requests.post(
        f"{base}/api/courses/{course_id}/create_checkout/",
        json=URLS,
        headers=student.headers,
        timeout=20,
    )


def _deliver(base: str, delivery: WebhookDelivery) -> int:
    try:
        response = requests.post(
            f"{base}/api/webhooks/stripe/",
            data=delivery.payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": delivery.signature,
            },
            timeout=20,
        )
    except requests.RequestException:
        return 0
    return response.status_code


def _paid_delivery(
    stripe: GatedStripe, course: dict[str, Any], user_id: str
) -> WebhookDelivery:
    """A Checkout Session paid on Stripe for this student, and its signed event."""
    session = stripe.checkout_session_add(
        amount=int(Decimal(course["price"]) * 100),
        metadata={"course_id": str(course["id"]), "clerk_user_id": user_id},
        customer_email=f"{user_id}@example.com",
    )
    paid = stripe.session_pay(session["id"], customer_email=f"{user_id}@example.com")
    return stripe.webhook_delivery("checkout.session.completed", paid)


def _wait_until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.2)


def _status(url: str, **kwargs: Any) -> int:
    try:
        return requests.get(url, timeout=10, **kwargs).status_code
    except requests.RequestException:
        return 0


# --- Tests (in this order: the first one needs a cold JWKS cache) -----------------


def test_the_jwks_is_fetched_once_for_the_whole_topology(topology, clerk):
    clerk.reset_counts()
    clerk.set_delay(0.3, path=JWKS_PATH)
    students = [_student(clerk, "jwks") for _ in range(24)]
    # Half on each node, all at once: four gunicorn workers race for the keys.
    targets = [topology.nodes[i % 2] for i in range(len(students))]

    with ThreadPoolExecutor(len(students)) as pool:
        statuses = list(
            pool.map(
                lambda pair: _status(f"{pair[0]}/api/me/", headers=pair[1].headers),
                zip(targets, students, strict=True),
            )
        )
    clerk.heal()

    assert statuses == [200] * len(students)
    assert clerk.jwks_fetches == 1


def test_the_nodes_reach_postgresql_through_pgbouncer_in_transaction_mode(topology):
    for node in topology.nodes:
        assert _status(f"{node}/api/courses/") == 200

    pools = topology.pooler("SHOW POOLS")
    database = urlsplit(topology.info["DATABASE_URL"]).path.lstrip("/")
    pool = next(row for row in pools if row["database"] == database)

    assert pool["pool_mode"] == "transaction"
    assert pool["cl_active"] + pool.get("cl_idle", 0) >= len(topology.nodes)


def test_buying_a_course_through_the_load_balancer(topology, stripe, clerk):
    student = _student(clerk, "buyer")
    course = _course(topology, "django-avance")

    started = _checkout(topology.api, course["id"], student)
    paid = stripe.session_pay(started.json()["session_id"])
    delivered = _deliver(
        topology.api, stripe.webhook_delivery("checkout.session.completed", paid)
    )
    verified = requests.post(
        f"{topology.api}/api/enrollments/verify_payment/",
        json={"session_id": paid["id"]},
        headers=student.headers,
        timeout=20,
    )
    my_courses = requests.get(
        f"{topology.api}/api/my-courses/", headers=student.headers, timeout=10
    ).json()
    detail = requests.get(
        f"{topology.api}/api/courses/{course['id']}/",
        headers=student.headers,
        timeout=10,
    ).json()

    assert started.status_code == 200
    assert delivered == 200
    assert verified.status_code == 200
    assert verified.json()["status"] == "success"
    assert [e["course"]["id"] for e in my_courses] == [course["id"]]
    assert my_courses[0]["price_paid"] == "99.99"
    assert detail["is_enrolled"] is True
    # Read through the pooler by the node and directly here: the same instant.
    [(paid_at,)] = topology.sql(
        "SELECT paid_at FROM courses_enrollment WHERE clerk_user_id = %s",
        (student.user_id,),
    )
    assert datetime.datetime.fromisoformat(my_courses[0]["paid_at"]) == paid_at


def test_the_same_event_ten_times_on_each_node_at_once_is_applied_once(
    topology, stripe, clerk
):
    user_id = _student(clerk, "twice").user_id
    delivery = _paid_delivery(stripe, _course(topology, "react-api-rest"), user_id)
    targets = [node for node in topology.nodes for _ in range(10)]
    start = threading.Barrier(len(targets))

    def deliver(node: str) -> int:
        start.wait()
        return _deliver(node, delivery)

    with ThreadPoolExecutor(len(targets)) as pool:
        statuses = list(pool.map(deliver, targets))

    assert statuses == [200] * len(targets)
    assert topology.sql(
        "SELECT attempts, processed_at IS NOT NULL FROM courses_stripeevent "
        "WHERE id = %s",
        (delivery.event["id"],),
    ) == [(1, True)]
    assert topology.sql(
        "SELECT status FROM courses_enrollment WHERE clerk_user_id = %s", (user_id,)
    ) == [("paid",)]


def _deliver_clerk(base: str, delivery: ClerkDelivery) -> int:
    try:
        response = requests.post(
            f"{base}/api/webhooks/clerk/",
            data=delivery.payload,
            headers=delivery.headers,
            timeout=20,
        )
    except requests.RequestException:
        return 0
    return response.status_code


def test_the_same_clerk_delivery_ten_times_on_each_node_at_once_is_applied_once(
    topology, clerk
):
    user_id = f"user_twice{secrets.token_hex(4)}"
    clerk.add_user(user_id, email=f"{user_id}@example.com", first_name="Twice")
    delivery = clerk.user_event("user.created", user_id)
    targets = [node for node in topology.nodes for _ in range(10)]
    start = threading.Barrier(len(targets))

    def deliver(node: str) -> int:
        start.wait()
        return _deliver_clerk(node, delivery)

    with ThreadPoolExecutor(len(targets)) as pool:
        statuses = list(pool.map(deliver, targets))

    assert statuses == [200] * len(targets)
    assert topology.sql(
        "SELECT attempts, processed_at IS NOT NULL "
        "FROM courses_clerkwebhookdelivery WHERE id = %s",
        (delivery.message_id,),
    ) == [(1, True)]
    assert topology.sql(
        "SELECT email, first_name FROM courses_student WHERE clerk_user_id = %s",
        (user_id,),
    ) == [(f"{user_id}@example.com", "Twice")]


def test_a_deletion_received_by_one_node_is_refused_at_once_by_the_other(
    topology, clerk
):
    student = _student(clerk, "leaving")
    first, second = topology.nodes
    before = [
        requests.get(f"{node}/api/me/", headers=student.headers, timeout=10)
        for node in (first, second)
    ]

    deleted = _deliver_clerk(second, clerk.user_event("user.deleted", student.user_id))
    after = requests.get(f"{first}/api/me/", headers=student.headers, timeout=10)

    assert [response.status_code for response in before] == [200, 200]
    assert deleted == 200
    assert after.status_code == 401
    assert topology.sql(
        "SELECT email, deleted_at IS NOT NULL FROM courses_student "
        "WHERE clerk_user_id = %s",
        (student.user_id,),
    ) == [("", True)]


def test_a_throttle_rate_is_shared_by_both_nodes(topology, clerk):
    student = _student(clerk, "throttled")
    course = _course(topology, "python-debutants")
    nodes = topology.nodes

    statuses = [
        _checkout(nodes[i % 2], course["id"], student).status_code
        for i in range(CHECKOUT_RATE + 3)
    ]

    assert statuses == [200] * CHECKOUT_RATE + [429] * 3


def test_reconcile_on_both_nodes_at_once_fulfils_fifty_missed_payments_once(
    topology, stripe, clerk
):
    course = _course(topology, "python-debutants")
    students = [_student(clerk, "missed") for _ in range(50)]
    with ThreadPoolExecutor(8) as pool:
        started = list(
            pool.map(lambda s: _checkout(topology.api, course["id"], s), students)
        )
    assert {response.status_code for response in started} == {200}
    for response in started:
        stripe.session_pay(response.json()["session_id"])  # no webhook arrives
    stripe.list_gate = threading.Barrier(2)

    runs = [topology.manage("reconcile_payments", "--since", "1h") for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    stripe.list_gate = None

    assert [run.returncode for run in runs] == [0, 0], outputs
    repaired = sum(output.count("Repaired enrollment") for output in outputs)
    assert repaired == 50, outputs
    user_ids = [student.user_id for student in students]
    assert topology.sql(
        "SELECT status, count(*) FROM courses_enrollment "
        "WHERE clerk_user_id = ANY(%s) GROUP BY status",
        (user_ids,),
    ) == [("paid", 50)]


def test_a_pooler_restart_answers_503_json_then_recovers_without_node_restarts(
    topology, stripe, clerk
):
    node_pids = {name: pid for name, pid in topology.pids.items() if "node" in name}
    user_id = _student(clerk, "outage").user_id
    delivery = _paid_delivery(stripe, _course(topology, "django-avance"), user_id)

    # Each node's catalog page cached (the host is part of the cache key).
    cached_before = [_status(f"{node}/api/courses/") for node in topology.nodes]

    topology.cli("kill", "pooler")
    # A page no one has asked for: not in the catalog cache, it needs the
    # database.
    during = [
        requests.get(f"{base}/api/courses/?page_size=7", timeout=10)
        for base in [*topology.nodes, topology.api]
        for _ in range(3)
    ]
    cached_during = [_status(f"{node}/api/courses/") for node in topology.nodes]
    webhook_during = _deliver(topology.api, delivery)
    # Both nodes fail their health check: HAProxy answers by itself.
    _wait_until(
        "HAProxy takes both nodes out",
        lambda: all(s.startswith("DOWN") for s in topology.lb_states().values()),
    )
    from_lb = requests.get(f"{topology.api}/api/courses/", timeout=10)
    topology.cli("start", "pooler")
    _wait_until(
        "the API answers again",
        lambda: _status(f"{topology.api}/api/courses/") == 200,
    )

    assert cached_before == [200, 200]
    # The cached answers need neither PostgreSQL nor the pooler.
    assert cached_during == [200, 200]
    assert {response.status_code for response in [*during, from_lb]} == {503}
    assert all(response.json()["detail"] for response in [*during, from_lb])
    assert all(response.headers["Retry-After"] for response in [*during, from_lb])
    assert "server" not in from_lb.headers  # HAProxy's, not a node's
    assert webhook_during in UNAVAILABLE | {500}
    assert [_status(f"{node}/api/courses/") for node in topology.nodes] == [200, 200]
    assert _deliver(topology.api, delivery) == 200  # Stripe's retry
    assert topology.sql(
        "SELECT status FROM courses_enrollment WHERE clerk_user_id = %s", (user_id,)
    ) == [("paid",)]
    assert {n: p for n, p in topology.pids.items() if "node" in n} == node_pids


def test_a_node_killed_under_load_loses_no_payment_and_the_other_serves_all(
    topology, stripe, clerk
):
    courses = requests.get(f"{topology.api}/api/courses/", timeout=10).json()
    course = courses["results"][0]
    user_ids = [_student(clerk, "load").user_id for _ in range(40)]
    deliveries = [_paid_delivery(stripe, course, user_id) for user_id in user_ids]
    pending: queue.Queue[WebhookDelivery] = queue.Queue()
    for delivery in deliveries:
        pending.put(delivery)
    outcomes: list[tuple[str, int]] = []
    failed: list[WebhookDelivery] = []
    done = threading.Event()
    readers, senders = 6, 2
    paths = ["/api/courses/", f"/api/courses/{course['id']}/", "/api/health/"]

    def read() -> None:
        turn = 0
        while not done.is_set():
            outcomes.append(("read", _status(topology.api + paths[turn % 3])))
            turn += 1

    def send() -> None:
        while True:
            try:
                delivery = pending.get_nowait()
            except queue.Empty:
                return
            status = _deliver(topology.api, delivery)
            outcomes.append(("webhook", status))
            if status != 200:
                failed.append(delivery)
            time.sleep(0.05)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    threads += [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    _wait_until("some webhooks delivered", lambda: pending.qsize() < 30)
    topology.cli("kill", "node1")
    _wait_until("all webhooks sent", pending.empty)
    served_before = len(outcomes)
    _wait_until("reads after the kill", lambda: len(outcomes) > served_before + 100)
    done.set()
    for thread in threads:
        thread.join(timeout=60)
    redelivered = [_deliver(topology.api, delivery) for delivery in failed]
    _wait_until(
        "HAProxy takes node1 out",
        lambda: topology.lb_states()["node1"].startswith("DOWN"),
    )
    after = [_status(f"{topology.api}/api/courses/") for _ in range(20)]
    topology.cli("start", "node1")

    errors = [status for _, status in outcomes if status != 200]
    assert set(errors) <= UNAVAILABLE | {0}
    # Only requests in flight when the node died may fail.
    assert len(errors) <= readers + senders
    assert redelivered == [200] * len(failed)
    assert topology.sql(
        "SELECT count(*), count(DISTINCT clerk_user_id) FROM courses_enrollment "
        "WHERE status = 'paid' AND clerk_user_id = ANY(%s)",
        (user_ids,),
    ) == [(40, 40)]
    assert topology.sql(
        "SELECT count(*) FROM courses_stripeevent "
        "WHERE id = ANY(%s) AND processed_at IS NOT NULL",
        ([d.event["id"] for d in deliveries],),
    ) == [(40,)]
    assert after == [200] * 20
