"""The student services against a real database: Clerk's data applied newest
last, erasure, and sign-in creating a student once (real HTTP to a fake Clerk)."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from courses.clerk_gateway import ClerkUserData
from courses.models import Enrollment, Student
from courses.services.students import (
    student_apply_clerk_user,
    student_erase,
)
from courses.tests.factories import EnrollmentFactory, StudentFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)


def _user(**fields) -> ClerkUserData:
    return ClerkUserData(
        **{"id": "user_ada", "email": "ada@example.com", "updated_at": NOON, **fields}
    )


def get_me(client, authorization):
    return client.get(
        "/api/me/", HTTP_AUTHORIZATION=authorization, HTTP_ACCEPT_LANGUAGE="en"
    )


# --- student_apply_clerk_user ---------------------------------------------------------


def test_apply_creates_a_student_never_seen():
    student_apply_clerk_user(user=_user(first_name="Ada", image_url="https://i/a.png"))

    student = Student.objects.get()
    assert (student.email, student.first_name) == ("ada@example.com", "Ada")
    assert student.image_url == "https://i/a.png"
    assert student.clerk_updated_at == NOON
    assert student.deleted_at is None


def test_apply_takes_newer_data_and_ignores_older_or_equal_data():
    student_apply_clerk_user(user=_user())
    an_hour = datetime.timedelta(hours=1)

    student_apply_clerk_user(
        user=_user(email="new@example.com", updated_at=NOON + an_hour)
    )
    student_apply_clerk_user(user=_user(email="old@example.com", updated_at=NOON))
    student_apply_clerk_user(
        user=_user(email="same@example.com", updated_at=NOON + an_hour)
    )

    student = Student.objects.get()
    assert student.email == "new@example.com"
    assert student.clerk_updated_at == NOON + an_hour


def test_data_without_a_timestamp_creates_but_never_overwrites():
    student_apply_clerk_user(user=_user(email="claims@example.com", updated_at=None))
    created = Student.objects.get()
    student_apply_clerk_user(user=_user(email="clerk@example.com"))
    student_apply_clerk_user(user=_user(email="claims2@example.com", updated_at=None))

    assert created.clerk_updated_at is None
    assert Student.objects.get().email == "clerk@example.com"


def test_apply_never_brings_a_deleted_student_back():
    StudentFactory(clerk_user_id="user_ada")
    with transaction.atomic():
        student_erase(clerk_user_id="user_ada")

    student_apply_clerk_user(user=_user(updated_at=NOON + datetime.timedelta(days=1)))

    student = Student.objects.get()
    assert student.is_deleted
    assert student.email == ""


def test_apply_to_a_known_student_costs_one_query(django_assert_num_queries):
    StudentFactory(clerk_user_id="user_ada", clerk_updated_at=None)

    with django_assert_num_queries(1):
        student_apply_clerk_user(user=_user())


# --- student_erase ------------------------------------------------------------------


def test_erase_keeps_a_tombstone_and_leaves_other_students_alone():
    StudentFactory(clerk_user_id="user_gone", image_url="https://i/g.png")
    kept = StudentFactory(clerk_user_id="user_kept")
    EnrollmentFactory(clerk_user_id="user_kept", student_email="kept@example.com")

    with transaction.atomic():
        student_erase(clerk_user_id="user_gone")

    gone = Student.objects.get(clerk_user_id="user_gone")
    assert gone.is_deleted
    assert (gone.email, gone.first_name, gone.last_name, gone.image_url) == (
        "",
        "",
        "",
        "",
    )
    assert str(gone) == "user_gone (deleted)"
    kept.refresh_from_db()
    assert kept.email == "user_kept@example.com"
    assert Enrollment.objects.get().student_email == "kept@example.com"


def test_erase_of_a_student_never_seen_makes_a_tombstone_and_is_idempotent():
    EnrollmentFactory(clerk_user_id="user_gone", student_email="g@example.com")

    with transaction.atomic():
        student_erase(clerk_user_id="user_gone")
    first_deleted_at = Student.objects.get().deleted_at
    with transaction.atomic():
        student_erase(clerk_user_id="user_gone")

    assert Student.objects.get().is_deleted
    assert Student.objects.get().deleted_at >= first_deleted_at
    assert Enrollment.objects.get().student_email == ""


def test_a_tombstone_cannot_hold_personal_data():
    StudentFactory(clerk_user_id="user_gone")
    with transaction.atomic():
        student_erase(clerk_user_id="user_gone")

    with pytest.raises(IntegrityError), transaction.atomic():
        Student.objects.filter(clerk_user_id="user_gone").update(email="x@example.com")


# --- Sign-in: the student created at first sight --------------------------------------


def test_a_new_student_costs_one_backend_api_call_then_none(fake_clerk, api_client):
    fake_clerk.add_user("user_new", email="new@example.com", first_name="New")

    answers = [
        get_me(api_client, fake_clerk.authorization("user_new")) for _ in range(5)
    ]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert {answer.json()["email"] for answer in answers} == {"new@example.com"}
    assert fake_clerk.user_fetches == 1
    student = Student.objects.get()
    assert (student.email, student.first_name) == ("new@example.com", "New")
    assert student.clerk_updated_at is not None


def test_a_known_student_signs_in_with_clerks_backend_api_down(fake_clerk, api_client):
    StudentFactory(clerk_user_id="user_known", email="known@example.com")
    token = fake_clerk.issue_token("user_known")
    get_me(api_client, fake_clerk.authorization(email="warm@example.com"))  # JWKS
    fake_clerk.fail(503, path="/v1/users/")

    response = get_me(api_client, f"Bearer {token}")

    assert response.status_code == 200
    assert response.json()["email"] == "known@example.com"
    assert fake_clerk.user_fetches == 0


def test_a_token_with_an_email_claim_creates_the_student_without_a_call(
    fake_clerk, api_client
):
    authorization = fake_clerk.authorization(
        "user_claims", email="claims@example.com", first_name="Claire"
    )

    response = get_me(api_client, authorization)

    student = Student.objects.get()
    assert response.json()["email"] == "claims@example.com"
    assert (student.email, student.first_name) == ("claims@example.com", "Claire")
    assert student.clerk_updated_at is None
    assert fake_clerk.user_fetches == 0


def test_the_webhook_after_the_first_sign_in_updates_the_student_at_once(
    fake_clerk, api_client, client
):
    fake_clerk.add_user("user_ada", email="ada@example.com", first_name="Ada")
    authorization = fake_clerk.authorization("user_ada")
    first = get_me(api_client, authorization)
    fake_clerk.update_user("user_ada", first_name="Augusta")
    delivery = fake_clerk.user_event("user.updated", "user_ada")

    client.post(
        "/api/webhooks/clerk/",
        data=delivery.payload,
        content_type="application/json",
        headers={k: v for k, v in delivery.headers.items() if k != "Content-Type"},
    )
    again = get_me(api_client, authorization)

    assert first.json()["first_name"] == "Ada"
    assert again.json()["first_name"] == "Augusta"
    assert fake_clerk.user_fetches == 1


def test_a_user_clerk_does_not_know_is_refused_and_not_created(fake_clerk, api_client):
    response = get_me(api_client, fake_clerk.authorization("user_unknown"))

    assert response.status_code == 401
    assert "no longer exists" in response.json()["detail"]
    assert not Student.objects.exists()


def test_without_a_secret_key_a_new_student_is_created_without_an_email(
    fake_clerk, api_client, settings
):
    settings.CLERK_SECRET_KEY = ""

    response = get_me(api_client, fake_clerk.authorization("user_1"))

    assert response.status_code == 200
    assert Student.objects.get().email == ""
    assert fake_clerk.user_fetches == 0
