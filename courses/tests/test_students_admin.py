"""The Student admin (read-only, searchable, with the student's enrollments) and
the student's name in the enrollment admin, at a fixed number of queries."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from courses.models import Student
from courses.services.students import student_erase
from courses.tests.factories import CourseFactory, EnrollmentFactory, StudentFactory
from courses.tests.staff import sign_in_staff

pytestmark = pytest.mark.django_db

STUDENT_CHANGELIST = reverse("admin:courses_student_changelist")
ENROLLMENT_CHANGELIST = reverse("admin:courses_enrollment_changelist")
XSS_NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _static_without_manifest(settings):
    # The admin pages need the static files' URLs only, not a manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


def _change_url(student: Student) -> str:
    return reverse("admin:courses_student_change", args=[student.pk])


@pytest.mark.parametrize(
    "query", ["ada@example.com", "Lovelace", "Augusta", "user_ada"]
)
def test_students_are_found_by_email_name_or_exact_clerk_id(admin_client, query):
    StudentFactory(
        clerk_user_id="user_ada",
        email="ada@example.com",
        first_name="Augusta",
        last_name="Lovelace",
    )
    StudentFactory(
        clerk_user_id="user_grace",
        email="grace@example.com",
        first_name="Grace",
        last_name="Hopper",
    )

    response = admin_client.get(STUDENT_CHANGELIST, {"q": query})

    assert response.status_code == 200
    assert b"ada@example.com" in response.content
    assert b"grace@example.com" not in response.content


def test_a_partial_clerk_id_finds_nobody(admin_client):
    StudentFactory(clerk_user_id="user_ada", email="ada@example.com")

    response = admin_client.get(STUDENT_CHANGELIST, {"q": "user_a"})

    assert b"user_ada" not in response.content


def test_deleted_students_can_be_filtered(admin_client):
    StudentFactory(clerk_user_id="user_here")
    StudentFactory(clerk_user_id="user_gone")
    with transaction.atomic():
        student_erase(clerk_user_id="user_gone")

    deleted = admin_client.get(STUDENT_CHANGELIST, {"account": "deleted"})
    active = admin_client.get(STUDENT_CHANGELIST, {"account": "active"})

    assert b"user_gone" in deleted.content
    assert b"user_here" not in deleted.content
    assert b"user_here" in active.content


def test_a_student_page_is_read_only_and_lists_their_enrollments(admin_client):
    student = StudentFactory(clerk_user_id="user_ada", first_name=XSS_NAME)
    enrollment = EnrollmentFactory(
        clerk_user_id="user_ada", course=CourseFactory(title="Python"), paid=True
    )
    EnrollmentFactory(
        clerk_user_id="user_other", course=CourseFactory(title="Someone else's")
    )

    response = admin_client.get(_change_url(student))
    posted = admin_client.post(_change_url(student), {"email": "x@example.com"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="email"' not in html
    assert '<input type="submit" value="Save"' not in html
    assert reverse("admin:courses_enrollment_change", args=[enrollment.pk]) in html
    assert "Python" in html
    assert "Someone else" not in html
    assert XSS_NAME not in html
    assert posted.status_code == 403
    student.refresh_from_db()
    assert student.email == "user_ada@example.com"


def test_students_cannot_be_added_or_deleted_in_the_admin(admin_client):
    student = StudentFactory()

    add = admin_client.get(reverse("admin:courses_student_add"))
    delete = admin_client.post(
        reverse("admin:courses_student_delete", args=[student.pk]), {"post": "yes"}
    )

    assert add.status_code == 403
    assert delete.status_code == 403
    assert Student.objects.filter(pk=student.pk).exists()


def test_staff_with_the_view_permission_only_see_students(client):
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_student"))
    sign_in_staff(client, staff)
    student = StudentFactory()

    listed = client.get(STUDENT_CHANGELIST)
    page = client.get(_change_url(student))

    assert (listed.status_code, page.status_code) == (200, 200)


def test_a_student_page_lists_enrollments_in_a_fixed_number_of_queries(admin_client):
    few = StudentFactory()
    EnrollmentFactory(clerk_user_id=few.clerk_user_id)
    many = StudentFactory()
    for _ in range(20):
        EnrollmentFactory(clerk_user_id=many.clerk_user_id)
    with CaptureQueriesContext(connection) as for_one:
        admin_client.get(_change_url(few))

    with CaptureQueriesContext(connection) as for_twenty:
        response = admin_client.get(_change_url(many))

    assert response.content.count(b"/admin/courses/enrollment/") >= 20
    assert len(for_twenty.captured_queries) == len(for_one.captured_queries)


# --- The enrollment admin shows the student's name -----------------------------------


def test_the_enrollment_list_shows_the_students_current_name(admin_client):
    StudentFactory(clerk_user_id="user_ada", first_name="Ada", last_name="King")
    EnrollmentFactory(clerk_user_id="user_ada", student_name="Name At Enrollment")
    EnrollmentFactory(clerk_user_id="user_unknown", student_name="No Student Yet")
    StudentFactory(clerk_user_id="user_gone")
    EnrollmentFactory(clerk_user_id="user_gone", student_name="Gone Away")
    with transaction.atomic():
        student_erase(clerk_user_id="user_gone")

    response = admin_client.get(ENROLLMENT_CHANGELIST, HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert "Ada King" in html
    assert "Name At Enrollment" not in html
    assert "No Student Yet" in html
    assert "Deleted account" in html
    assert "Gone Away" not in html


def test_the_student_name_is_escaped_in_the_enrollment_list(admin_client):
    StudentFactory(clerk_user_id="user_x", first_name=XSS_NAME)
    EnrollmentFactory(clerk_user_id="user_x")

    response = admin_client.get(ENROLLMENT_CHANGELIST)

    assert XSS_NAME.encode() not in response.content


def test_the_enrollment_list_costs_the_same_queries_for_2_and_20_rows(admin_client):
    for _ in range(2):
        student = StudentFactory()
        EnrollmentFactory(clerk_user_id=student.clerk_user_id)
    with CaptureQueriesContext(connection) as with_2:
        admin_client.get(ENROLLMENT_CHANGELIST)
    for _ in range(18):
        student = StudentFactory()
        EnrollmentFactory(clerk_user_id=student.clerk_user_id)

    with CaptureQueriesContext(connection) as with_20:
        response = admin_client.get(ENROLLMENT_CHANGELIST)

    assert response.content.count(b"Ada Lovelace") == 20
    assert len(with_20.captured_queries) == len(with_2.captured_queries)


def test_an_enrollment_page_links_to_its_student(admin_client):
    student = StudentFactory(clerk_user_id="user_ada", first_name="Ada")
    enrollment = EnrollmentFactory(clerk_user_id="user_ada")
    orphan = EnrollmentFactory(clerk_user_id="user_nobody")

    page = admin_client.get(
        reverse("admin:courses_enrollment_change", args=[enrollment.pk])
    )
    orphan_page = admin_client.get(
        reverse("admin:courses_enrollment_change", args=[orphan.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert _change_url(student).encode() in page.content
    assert b"No student record yet" in orphan_page.content
