import pytest

from courses.tests.conftest import database_unreachable


@pytest.mark.django_db
def test_health_check_reports_a_reachable_database(api_client):
    response = api_client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db(transaction=True)
def test_health_check_answers_503_then_recovers_with_the_database(api_client):
    with database_unreachable():
        down = api_client.get("/api/health/")

    up = api_client.get("/api/health/")

    assert down.status_code == 503
    assert down.json() == {"status": "degraded", "database": "unavailable"}
    assert up.status_code == 200
