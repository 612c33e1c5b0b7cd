"""Anonymous and signed-in rates from the settings; 429 JSON with Retry-After."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from courses.authentication import ClerkUser
from courses.tests.factories import CourseFactory
from courses.throttling import AnonRateThrottle, SignedInRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(monkeypatch):
    """DRF's throttles copy the rates when rest_framework is imported, so the
    `settings` fixture cannot lower them: set them on the throttle class."""
    rates = {"anon": "2/minute", "user": "3/minute", "checkout": "1/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    return rates


def test_the_default_throttles_are_the_anonymous_and_signed_in_ones():
    assert AnonRateThrottle in api_settings.DEFAULT_THROTTLE_CLASSES
    assert SignedInRateThrottle in api_settings.DEFAULT_THROTTLE_CLASSES
    assert issubclass(SignedInRateThrottle, UserRateThrottle)


def test_anonymous_callers_are_held_to_the_anonymous_rate_only(api_client, monkeypatch):
    rates = {"anon": "2/minute", "user": "1/minute", "checkout": "1/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    CourseFactory()

    answers = [api_client.get("/api/courses/").status_code for _ in range(3)]

    assert answers == [200, 200, 429]


def test_throttle_rates_come_from_the_environment_variables():
    rates = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]

    # pytest.ini sets the THROTTLE_*_RATE variables for the test run.
    assert rates == {
        "anon": os.environ["THROTTLE_ANON_RATE"],
        "user": os.environ["THROTTLE_USER_RATE"],
        "checkout": os.environ["THROTTLE_CHECKOUT_RATE"],
    }
    assert rates == SimpleRateThrottle.THROTTLE_RATES


def test_anonymous_caller_over_the_rate_gets_a_json_429_with_retry_after(
    api_client, low_rates
):
    CourseFactory()
    for _ in range(2):
        assert api_client.get("/api/courses/").status_code == 200

    response = api_client.get("/api/courses/")

    assert response.status_code == 429
    assert set(response.json()) == {"detail"}
    assert 0 < int(response["Retry-After"]) <= 60


def test_signed_in_caller_has_its_own_rate_per_user(api_client, low_rates):
    CourseFactory()
    api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_a"))
    for _ in range(3):
        assert api_client.get("/api/my-courses/").status_code == 200

    throttled = api_client.get("/api/courses/")
    api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_b"))
    other_user = api_client.get("/api/courses/")

    assert throttled.status_code == 429
    assert "Retry-After" in throttled
    assert other_user.status_code == 200


def test_health_check_is_never_throttled(api_client, low_rates):
    for _ in range(5):
        response = api_client.get("/api/health/")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/schema/", "/api/schema/?format=json", "/api/docs/", "/api/config/"]
)
def test_the_schema_the_docs_and_the_config_are_never_throttled(
    api_client, low_rates, settings, path
):
    # The docs page names its assets; the production manifest exists only
    # after collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }

    statuses = {api_client.get(path).status_code for _ in range(5)}

    assert statuses == {200}
    assert api_client.get("/api/courses/").status_code == 200  # 1 of 2 left


# --- The client's address ------------------------------------------------------------


def _anonymous_statuses(api_client, forwarded_for: list[str]) -> list[int]:
    return [
        api_client.get("/api/courses/", HTTP_X_FORWARDED_FOR=value).status_code
        for value in forwarded_for
    ]


@pytest.fixture
def anon_rate_10(monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "10/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_thirty_spoofed_requests_are_throttled_like_thirty_from_one_client(
    api_client, settings, anon_rate_10
):
    settings.TRUSTED_PROXY_COUNT = 0
    CourseFactory()
    spoofed = _anonymous_statuses(api_client, [f"203.0.113.{i}" for i in range(30)])
    cache.clear()

    plain = [api_client.get("/api/courses/").status_code for _ in range(30)]

    assert spoofed == plain == [200] * 10 + [429] * 20


def test_behind_one_proxy_the_address_it_appended_is_the_client(
    api_client, settings, anon_rate_10
):
    settings.TRUSTED_PROXY_COUNT = 1
    CourseFactory()

    # The client writes a new address each time; the proxy appends the real one.
    one_client = _anonymous_statuses(
        api_client, [f"203.0.113.{i}, 198.51.100.7" for i in range(30)]
    )
    many_clients = _anonymous_statuses(
        api_client, [f"192.0.2.1, 198.51.100.{i + 100}" for i in range(30)]
    )

    assert one_client == [200] * 10 + [429] * 20
    assert many_clients == [200] * 30


# --- With Redis: one atomic script per request ---------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/7"


@pytest.fixture
def on_redis(settings):
    """The shared cache on Redis, as in production (REDIS_URL)."""
    redis.Redis.from_url(REDIS_URL, socket_timeout=1).flushdb()
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "test",
        }
    }
    yield
    redis.Redis.from_url(REDIS_URL, socket_timeout=1).flushdb()


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, moved by hand: now[0] seconds."""
    now = [1_000_000.0]
    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: now[0]))
    return now


@pytest.mark.redis
def test_on_redis_the_rate_holds_with_a_json_429_and_retry_after(
    api_client, low_rates, on_redis, clock
):
    CourseFactory()
    answers = [api_client.get("/api/health/").status_code for _ in range(3)]
    statuses = [api_client.get("/api/courses/").status_code for _ in range(2)]
    clock[0] += 20

    throttled = api_client.get("/api/courses/")

    assert answers == [200, 200, 200]  # never throttled
    assert statuses == [200, 200]
    assert throttled.status_code == 429
    assert set(throttled.json()) == {"detail"}
    assert throttled["Retry-After"] == "40"  # DRF's own arithmetic


@pytest.mark.redis
def test_on_redis_requests_leave_the_window_after_the_period(
    api_client, low_rates, on_redis, clock
):
    CourseFactory()
    first = [api_client.get("/api/courses/").status_code for _ in range(3)]
    clock[0] += 60.5

    later = [api_client.get("/api/courses/").status_code for _ in range(3)]

    assert first == later == [200, 200, 429]


@pytest.mark.redis
def test_on_redis_each_signed_in_user_has_a_rate_of_their_own(
    api_client, low_rates, on_redis, clock
):
    api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_a"))
    user_a = [api_client.get("/api/my-courses/").status_code for _ in range(4)]
    api_client.force_authenticate(user=ClerkUser(clerk_user_id="user_b"))

    user_b = api_client.get("/api/my-courses/")

    assert user_a == [200, 200, 200, 429]
    assert user_b.status_code == 200


@pytest.mark.redis
def test_on_redis_concurrent_requests_never_pass_the_rate(monkeypatch, on_redis):
    """Twenty requests at once from one client, rate 5: five pass, on any
    number of workers or nodes (DRF's read-then-write lets more through)."""
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "5/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    request = Request(APIRequestFactory().get("/api/courses/"))
    request.user = None
    barrier = threading.Barrier(20)

    def attempt(_: int) -> bool:
        throttle = AnonRateThrottle()
        barrier.wait()
        return throttle.allow_request(request, view=None)

    with ThreadPoolExecutor(max_workers=20) as pool:
        allowed = list(pool.map(attempt, range(20)))

    assert allowed.count(True) == 5
