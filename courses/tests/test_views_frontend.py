"""GET /api/config/: the publishable keys, currency and languages, no secret."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings):
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_stripe_publishable"
    settings.STRIPE_SECRET_KEY = "sk_test_stripe_secret"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_stripe_secret"
    settings.CLERK_PUBLISHABLE_KEY = "pk_test_clerk_publishable"
    settings.CLERK_SECRET_KEY = "sk_test_clerk_secret"
    settings.STRIPE_CURRENCY = "eur"
    return settings


def test_config_serves_the_publishable_keys_currency_and_languages(
    api_client, keys, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = api_client.get("/api/config/")

    assert response.status_code == 200
    assert response.json() == {
        "stripe_publishable_key": "pk_test_stripe_publishable",
        "clerk_publishable_key": "pk_test_clerk_publishable",
        "currency": "eur",
        "default_language": "fr",
        "languages": [
            {"code": "fr", "name": "français"},
            {"code": "en", "name": "English"},
        ],
    }
    assert response["Cache-Control"] == "public, max-age=300"


def test_config_never_holds_a_secret(api_client, keys):
    body = api_client.get("/api/config/").content.decode()

    assert "sk_test" not in body
    assert "whsec_" not in body
    assert keys.SECRET_KEY not in body


def test_config_with_nothing_configured_has_empty_keys(api_client, settings):
    settings.STRIPE_PUBLISHABLE_KEY = ""
    settings.CLERK_PUBLISHABLE_KEY = ""

    response = api_client.get("/api/config/")

    assert response.json()["stripe_publishable_key"] == ""
    assert response.json()["clerk_publishable_key"] == ""


def test_config_ignores_a_bad_token(api_client):
    response = api_client.get("/api/config/", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 200
