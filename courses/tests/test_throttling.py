"""Anonymous and signed-in rates from the settings; 429 JSON with Retry-After."""

import os

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.settings import api_settings
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
