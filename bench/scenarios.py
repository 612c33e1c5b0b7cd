"""The scenarios measured: for each, the requests sent, the servers that serve
it, the status expected and the bare Django scenario it is compared with; and
the SQL queries per request that no scenario of the API may exceed.
"""

import dataclasses
import random
from collections.abc import Callable

from bench import wrk
from bench.databases import Catalog
from bench.load import BENCH_STUDENT, OUTLINE_LESSONS
from bench.servers import API, API_NOCACHE, BASELINE, TUTORIAL, Server, fetch_etag
from bench.webhooks import Webhooks, webhook_request
from courses.tests.fakes.clerk import FakeClerk

SIGNED_IN_STUDENT = "user_7"
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
