"""`manage.py sync_clerk_users`: the students backfilled and repaired from the fake
Clerk's Backend API over real HTTP; idempotent and safe to rerun."""

import datetime
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from courses.models import Enrollment, Student
from courses.tests.factories import EnrollmentFactory, StudentFactory

pytestmark = pytest.mark.django_db


def _sync(*args: str) -> str:
    out = StringIO()
    call_command("sync_clerk_users", *args, stdout=out)
    return out.getvalue()


def _rows() -> list[tuple]:
    return list(
        Student.objects.order_by("clerk_user_id").values_list(
            "clerk_user_id",
            "email",
            "first_name",
            "clerk_updated_at",
            "updated_at",
            "deleted_at",
        )
    )


def test_sync_creates_every_user_a_hundred_a_page(fake_clerk):
    for number in range(250):
        fake_clerk.add_user(
            f"user_{number}", email=f"{number}@example.com", first_name=f"N{number}"
        )

    output = _sync()

    assert Student.objects.count() == 250
    assert Student.objects.get(clerk_user_id="user_42").email == "42@example.com"
    assert fake_clerk.user_list_fetches == 3
    assert "250 Clerk user(s) read; 0 student(s) erased" in output


def test_sync_twice_changes_nothing_the_second_time(fake_clerk):
    for number in range(120):
        fake_clerk.add_user(f"user_{number}", email=f"{number}@example.com")
    _sync()
    first = _rows()

    _sync()

    assert _rows() == first


def test_sync_updates_older_rows_and_keeps_newer_ones(fake_clerk):
    fake_clerk.add_user("user_stale", email="new@example.com")
    fake_clerk.add_user("user_fresher", email="clerk-list@example.com", updated_at=1000)
    StudentFactory(
        clerk_user_id="user_stale",
        email="old@example.com",
        clerk_updated_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
    )
    # A webhook applied newer data than the list the command reads.
    StudentFactory(
        clerk_user_id="user_fresher",
        email="webhook@example.com",
        clerk_updated_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
    )

    _sync()

    assert Student.objects.get(clerk_user_id="user_stale").email == "new@example.com"
    assert (
        Student.objects.get(clerk_user_id="user_fresher").email == "webhook@example.com"
    )


def test_sync_lists_students_clerk_no_longer_has_and_erases_them_when_asked(
    fake_clerk,
):
    fake_clerk.add_user("user_here", email="here@example.com")
    StudentFactory(clerk_user_id="user_here")
    StudentFactory(clerk_user_id="user_missed_deletion", email="gone@example.com")
    EnrollmentFactory(
        clerk_user_id="user_missed_deletion", student_email="gone@example.com"
    )

    listed = _sync()
    kept = Student.objects.get(clerk_user_id="user_missed_deletion")
    erased = _sync("--erase-deleted")
    again = _sync("--erase-deleted")

    assert "1 student(s) no longer exist in Clerk (user_missed_deletion)" in listed
    assert "0 student(s) erased" in listed
    assert kept.email == "gone@example.com"
    gone = Student.objects.get(clerk_user_id="user_missed_deletion")
    assert gone.is_deleted
    assert gone.email == ""
    assert Enrollment.objects.get().student_email == ""
    assert "1 student(s) erased" in erased
    assert "0 student(s) erased" in again
    assert "no longer exist" not in again
    assert not Student.objects.get(clerk_user_id="user_here").is_deleted


def test_sync_without_a_secret_key_stops_with_an_error(fake_clerk, settings):
    settings.CLERK_SECRET_KEY = ""

    with pytest.raises(CommandError, match="CLERK_SECRET_KEY is not set"):
        _sync()


def test_sync_with_clerk_down_stops_with_an_error_and_changes_nothing(fake_clerk):
    StudentFactory(clerk_user_id="user_kept")
    fake_clerk.stop()

    with pytest.raises(CommandError, match="could not be read"):
        _sync()

    assert not Student.objects.get().is_deleted


def test_sync_on_a_terminal_shows_a_progress_bar(fake_clerk, capsys, monkeypatch):
    for number in range(150):
        fake_clerk.add_user(f"user_{number}", email=f"{number}@example.com")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    _sync()

    progress = capsys.readouterr().err
    assert "150/150" in progress
    assert "user" in progress
