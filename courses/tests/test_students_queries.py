"""Query budgets of the student side: a Clerk webhook delivery costs at most five
queries; a signed-in request of a known student adds one query to the
endpoint's own (none while the shared cache holds the student)."""

import pytest
import redis
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from courses.models import Student
from courses.tests.factories import CourseFactory, EnrollmentFactory, StudentFactory

pytestmark = pytest.mark.django_db

URL = "/api/webhooks/clerk/"
# A database number of its own: these tests empty it.
REDIS_URL = "redis://127.0.0.1:6379/6"


def _deliver(delivery):
    headers = {k: v for k, v in delivery.headers.items() if k != "Content-Type"}
    return Client().post(
        URL, data=delivery.payload, content_type="application/json", headers=headers
    )


@pytest.fixture
def shared_cache(settings):
    """The Django cache on Redis (database 6), as with REDIS_URL in production."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    client.flushdb()
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "students-test",
        }
    }
    yield
    client.flushdb()
    client.close()


# --- Webhook deliveries: at most five queries -------------------------------------
# Each count below adds SAVEPOINT and RELEASE: the test runs inside a
# transaction, so the delivery's own transaction is a savepoint here (in
# production it is BEGIN/COMMIT, which are not queries).


def test_user_created_for_a_new_student_costs_five_queries(
    fake_clerk, django_assert_num_queries
):
    fake_clerk.add_user("user_new", email="new@example.com")
    delivery = fake_clerk.user_event("user.created", "user_new")

    # lock the delivery, update (none), insert the student, update (none),
    # insert the delivery
    with django_assert_num_queries(5 + 2):
        response = _deliver(delivery)

    assert response.json() == {"detail": "processed"}
    assert Student.objects.get().email == "new@example.com"


def test_user_updated_for_a_known_student_costs_three_queries(
    fake_clerk, django_assert_num_queries
):
    StudentFactory(clerk_user_id="user_known", clerk_updated_at=None)
    fake_clerk.add_user("user_known", email="known@example.com")
    delivery = fake_clerk.user_event("user.updated", "user_known")

    # lock the delivery, update the student, insert the delivery
    with django_assert_num_queries(3 + 2):
        response = _deliver(delivery)

    assert response.json() == {"detail": "processed"}
    assert Student.objects.get().email == "known@example.com"


def test_user_deleted_with_enrollments_and_history_costs_five_queries(
    fake_clerk, django_assert_num_queries
):
    StudentFactory(clerk_user_id="user_gone")
    enrollments = [EnrollmentFactory(clerk_user_id="user_gone") for _ in range(3)]
    staff = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    LogEntry.objects.log_actions(
        user_id=staff.pk, queryset=enrollments, action_flag=CHANGE, change_message="x"
    )
    delivery = fake_clerk.user_event("user.deleted", "user_gone")

    # lock the delivery, upsert the tombstone, erase the enrollments, erase
    # their history's titles, insert the delivery
    with django_assert_num_queries(5 + 2):
        response = _deliver(delivery)

    assert response.json() == {"detail": "processed"}
    assert Student.objects.get().is_deleted


def test_a_repeated_delivery_costs_one_query(fake_clerk, django_assert_num_queries):
    fake_clerk.add_user("user_new", email="new@example.com")
    delivery = fake_clerk.user_event("user.created", "user_new")
    _deliver(delivery)

    with django_assert_num_queries(1 + 2):
        response = _deliver(delivery)

    assert response.json() == {"detail": "duplicate"}


# --- Signed-in requests with a real token: +1 query, 0 with a shared cache ---------


def test_a_known_student_adds_one_query_and_no_backend_api_call(
    fake_clerk, api_client, django_assert_num_queries
):
    StudentFactory(clerk_user_id="user_known", email="known@example.com")
    EnrollmentFactory(clerk_user_id="user_known", paid=True)
    authorization = fake_clerk.authorization("user_known")

    # The student; my-courses' own count is 1 (test_views_catalog.py).
    with django_assert_num_queries(1):
        me = api_client.get("/api/me/", HTTP_AUTHORIZATION=authorization)
    with django_assert_num_queries(1 + 1):
        mine = api_client.get("/api/my-courses/", HTTP_AUTHORIZATION=authorization)

    assert me.json()["email"] == "known@example.com"
    assert len(mine.json()) == 1
    assert fake_clerk.user_fetches == 0


def test_a_course_page_signed_in_costs_its_one_query_plus_the_student(
    fake_clerk, api_client, django_assert_num_queries
):
    StudentFactory(clerk_user_id="user_known")
    course = CourseFactory()
    authorization = fake_clerk.authorization("user_known")

    with django_assert_num_queries(1 + 1):
        response = api_client.get(
            f"/api/courses/{course.pk}/", HTTP_AUTHORIZATION=authorization
        )

    assert response.status_code == 200


@pytest.mark.redis
def test_with_a_shared_cache_a_known_student_costs_no_query(
    fake_clerk, api_client, shared_cache, django_assert_num_queries
):
    StudentFactory(clerk_user_id="user_known", email="known@example.com")
    EnrollmentFactory(clerk_user_id="user_known", paid=True)
    authorization = fake_clerk.authorization("user_known")
    api_client.get("/api/me/", HTTP_AUTHORIZATION=authorization)

    with django_assert_num_queries(0):
        me = api_client.get("/api/me/", HTTP_AUTHORIZATION=authorization)
    with django_assert_num_queries(1):
        mine = api_client.get("/api/my-courses/", HTTP_AUTHORIZATION=authorization)

    assert me.json()["email"] == "known@example.com"
    assert len(mine.json()) == 1


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_with_a_shared_cache_a_deletion_is_refused_at_once_without_a_query(
    fake_clerk, shared_cache, django_assert_num_queries
):
    """The cached student is replaced by a deleted one when the erasure commits,
    so every process refuses the next request: its token was accepted before
    and is still remembered by this process."""
    StudentFactory(clerk_user_id="user_gone")
    authorization = fake_clerk.authorization("user_gone", expires_in=3600)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    accepted = client.get("/api/me/", HTTP_AUTHORIZATION=authorization)

    deleted = _deliver(fake_clerk.user_event("user.deleted", "user_gone"))
    with django_assert_num_queries(0):
        refused = client.get("/api/me/", HTTP_AUTHORIZATION=authorization)

    assert accepted.status_code == 200
    assert deleted.json() == {"detail": "processed"}
    assert refused.status_code == 401
    assert refused.json() == {"detail": "This account has been deleted."}


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_with_a_shared_cache_an_update_is_seen_at_the_next_request(
    fake_clerk, shared_cache
):
    fake_clerk.add_user("user_ada", email="ada@example.com", first_name="Ada")
    _deliver(fake_clerk.user_event("user.created", "user_ada"))
    authorization = fake_clerk.authorization("user_ada", expires_in=3600)
    client = Client()
    before = client.get("/api/me/", HTTP_AUTHORIZATION=authorization)
    fake_clerk.update_user("user_ada", first_name="Augusta")

    _deliver(fake_clerk.user_event("user.updated", "user_ada"))
    after = client.get("/api/me/", HTTP_AUTHORIZATION=authorization)

    assert before.json()["first_name"] == "Ada"
    assert after.json()["first_name"] == "Augusta"
