"""Schema fuzzing: every operation of the OpenAPI schema, on a live server.

Schemathesis generates valid and invalid requests from the project's own
OpenAPI schema (the one /api/schema/ serves) and sends them over HTTP to
pytest-django's live server, on PostgreSQL, first as sent (anonymous, or with
whatever Authorization header it invented) and then with a real Clerk token.
Every answer must be documented: no 5xx, a status code and a content type the
schema lists, a body that matches its schema, invalid input refused.
"""

import collections
import os

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from courses.tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
    OrderFactory,
    SectionFactory,
)

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

# Per operation: enough to find the usual breakages (NUL bytes, huge numbers,
# odd unicode, wrong types) while the run stays short. The same examples every
# run, so CI is reproducible; FUZZ_RANDOM=1 FUZZ_MAX_EXAMPLES=300 explores more.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM", "") != "1"

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.response_headers_conformance,
    st_checks.negative_data_rejection,
]


def _project_schema() -> dict:
    # Built at collection time, so every operation becomes its own test item;
    # test_served_schema_is_the_fuzzed_schema ties it to what clients fetch.
    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(_project_schema())
requests_sent: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_requests_sent():
    yield
    total = sum(requests_sent.values())
    print(f"\nschema fuzzing: {total} requests, {len(requests_sent)} operations")  # noqa: T201
    for label, count in sorted(requests_sent.items()):
        print(f"  {count:5d}  {label}")  # noqa: T201


FUZZ_USER = "user_fuzz"


@pytest.fixture
def catalog():
    """A few rows, so that some generated requests reach real objects."""
    # Explicit small ids, which generated paths hit most; the tables are empty
    # here and nothing in this fixture takes an id from their sequences.
    paid = CourseFactory(
        id=1, slug="python-basics", thumbnail_url="https://cdn.example/p.png"
    )
    pending = CourseFactory(id=2, slug="django-rest")
    CourseFactory(id=3, slug="free-course", price=0)
    retired = CourseFactory(id=4, slug="retired-course", is_active=False)
    enrollment = EnrollmentFactory(course=paid, clerk_user_id=FUZZ_USER, paid=True)
    EnrollmentFactory(course=pending, clerk_user_id=FUZZ_USER)
    theirs = EnrollmentFactory(
        course=pending, clerk_user_id="user_someone_else", paid=True
    )
    # Orders with small ids: the caller's paid one (with a promotion code), and
    # someone else's.
    OrderFactory(id=1, enrollment=enrollment, promotion_code="SPRING20")
    OrderFactory(id=2, enrollment=theirs)
    _lessons(paid, pending, retired, enrollment)


def _lessons(paid, pending, retired, enrollment):
    """Lessons with explicit small ids: a preview, paid-only, a draft, one
    completed, one of a course not bought, one of a retired course."""
    intro = SectionFactory(course=paid, position=0)
    more = SectionFactory(course=paid, position=1)
    LessonFactory(id=1, section=intro, is_preview=True, kind="video")
    LessonFactory(
        id=2, section=intro, body="# Hi\n\n<script>x</script>[a](javascript:x)"
    )
    LessonFactory(id=3, section=intro, is_published=False)
    done = LessonFactory(id=4, section=more)
    LessonFactory(id=5, section=SectionFactory(course=pending))
    LessonFactory(id=6, section=SectionFactory(course=retired), is_preview=True)
    LessonProgressFactory(enrollment=enrollment, lesson=done)


@pytest.fixture
def authorization(fake_clerk, fake_stripe):
    """A valid Clerk token for FUZZ_USER; Stripe's fake configured for payments."""
    fake_clerk.add_user(FUZZ_USER, email="fuzz@example.com", first_name="Fuzz")
    return f"Bearer {fake_clerk.issue_token(FUZZ_USER, expires_in=3600)}"


def test_served_schema_is_the_fuzzed_schema(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json() == _project_schema()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case, live_server, catalog, authorization
):
    # As generated (anonymous, or a made-up Authorization header), then signed
    # in. Setting the header on the case (not per call) lets Schemathesis
    # re-check whether the case is still invalid, e.g. when the only thing
    # wrong with it was the missing token.
    case.call_and_validate(base_url=live_server.url, checks=CHECKS)
    case.headers = {**(case.headers or {}), "Authorization": authorization}
    # A real credential, as Schemathesis's own auth providers mark theirs: so
    # ignored_auth replays the request without the token and with a broken
    # one, and an operation that requires sign-in must refuse both.
    case._has_explicit_auth = True
    case.call_and_validate(
        base_url=live_server.url, checks=[*CHECKS, st_checks.ignored_auth]
    )

    requests_sent[case.operation.label] += 2
