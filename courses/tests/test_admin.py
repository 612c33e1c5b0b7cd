import csv
import io
import re
import threading
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

from courses import stripe_gateway
from courses.admin import CourseAdmin
from courses.authentication import ClerkUser
from courses.models import Course, Enrollment
from courses.services import payments
from courses.services.payments.staff import (
    enrollment_export_csv,
    enrollment_mark_paid_by_staff,
    enrollment_mark_unpaid_by_staff,
)
from courses.tests.factories import CourseFactory, EnrollmentFactory
from courses.tests.staff import sign_in_staff

pytestmark = pytest.mark.django_db

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_EMAIL = '"><script>alert(2)</script>@example.com'

COURSE_CHANGELIST = reverse("admin:courses_course_changelist")
ENROLLMENT_CHANGELIST = reverse("admin:courses_enrollment_changelist")


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """The admin's static files as `collectstatic` writes them for production."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", "--noinput", verbosity=0)
    return root


@pytest.fixture(autouse=True)
def _production_static(settings, collected_static):
    # DEBUG is off in tests, so templates need the manifest that collectstatic
    # writes, exactly as under gunicorn.
    settings.STATIC_ROOT = collected_static


def _course_change_url(course: Course) -> str:
    return reverse("admin:courses_course_change", args=[course.pk])


def _run_action(client, action: str, enrollments: list[Enrollment]):
    return client.post(
        ENROLLMENT_CHANGELIST,
        {"action": action, "_selected_action": [e.pk for e in enrollments]},
        follow=True,
    )


def _refund(client, enrollments: list[Enrollment], *, confirm: bool, **headers):
    data = {
        "action": "refund_through_stripe",
        "_selected_action": [e.pk for e in enrollments],
    }
    if confirm:
        data["post"] = "yes"
    return client.post(ENROLLMENT_CHANGELIST, data, follow=True, **headers)


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def _paid_through_stripe(
    fake_stripe, *, first_name: str = "Ada", price: str = "49.99"
) -> Enrollment:
    """A paid enrollment with a real PaymentIntent at the fake Stripe."""
    course = CourseFactory(price=Decimal(price))
    student = ClerkUser(
        clerk_user_id=f"user_{first_name}",
        email="student@example.com",
        first_name=first_name,
        last_name="Lovelace",
    )
    started = payments.checkout_start(
        course=course,
        student=student,
        success_url="http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://localhost:3000/cancel",
    )
    session = fake_stripe.session_pay(started.session.id)
    return payments.checkout_fulfill(
        session=stripe_gateway.checkout_session_from_dict(session)
    )


@pytest.fixture
def enrollment_staff(client):
    """A logged-in staff member who may view, change and refund enrollments."""
    user = User.objects.create_user("clerk", password="pw-clerk-1234", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_enrollment", "change_enrollment", "refund_enrollment"]
        )
    )
    sign_in_staff(client, user)
    return user


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


# --- Course admin ---------------------------------------------------------------


def test_course_changelist_costs_the_same_queries_with_5_and_50_courses(
    admin_client,
):
    for course in CourseFactory.create_batch(5):
        EnrollmentFactory(course=course, paid=True)
    with CaptureQueriesContext(connection) as with_5:
        response_5 = admin_client.get(COURSE_CHANGELIST)
    for course in CourseFactory.create_batch(45):
        EnrollmentFactory.create_batch(2, course=course, paid=True)

    with CaptureQueriesContext(connection) as with_50:
        response_50 = admin_client.get(COURSE_CHANGELIST)

    assert response_5.status_code == response_50.status_code == 200
    assert response_50.content.count(b'class="enrollment-badge"') == 50
    assert len(with_50.captured_queries) == len(with_5.captured_queries)


def test_course_badge_counts_paid_enrollments_only(admin_client):
    course = CourseFactory(title="Django")
    EnrollmentFactory.create_batch(3, course=course, paid=True)
    EnrollmentFactory(course=course)
    EnrollmentFactory(course=course, status=Enrollment.Status.REFUNDED)

    response = admin_client.get(COURSE_CHANGELIST)

    badge = re.search(
        rb'class="enrollment-badge"[^>]*background-color: (#\w+);[^>]*>(\d+)<',
        response.content,
    )
    assert badge.group(2) == b"3"
    assert badge.group(1) == b"#b45309"


@pytest.mark.parametrize(
    ("paid", "colour"), [(0, "#6b7280"), (9, "#b45309"), (10, "#15803d")]
)
def test_course_badge_colour_follows_the_count(admin_client, paid, colour):
    course = CourseFactory()
    EnrollmentFactory.create_batch(paid, course=course, paid=True)

    response = admin_client.get(_course_change_url(course))

    assert f"background-color: {colour};" in response.content.decode()
    assert f">{paid}</span>" in response.content.decode()


def test_course_change_page_lists_enrollments_in_a_fixed_number_of_queries(
    admin_client,
):
    small = CourseFactory()
    EnrollmentFactory(course=small)
    large = CourseFactory()
    EnrollmentFactory.create_batch(30, course=large)
    with CaptureQueriesContext(connection) as for_one:
        admin_client.get(_course_change_url(small))

    with CaptureQueriesContext(connection) as for_thirty:
        response = admin_client.get(_course_change_url(large))

    assert len(for_thirty.captured_queries) == len(for_one.captured_queries)
    page = response.content.decode()
    table = page.split('class="enrollment-list"')[1].split("</table>")[0]
    assert table.count("<tr>") == 31  # header + one row per enrollment


def test_course_change_page_caps_the_table_and_links_to_the_full_list(
    admin_client, monkeypatch
):
    monkeypatch.setattr("courses.admin.catalog.ENROLLMENT_TABLE_LIMIT", 2)
    course = CourseFactory()
    EnrollmentFactory.create_batch(3, course=course)

    response = admin_client.get(_course_change_url(course))

    html = response.content.decode()
    table = html.split('class="enrollment-list"')[1].split("</table>")[0]
    assert table.count("<tr>") == 3
    assert escape(f"{ENROLLMENT_CHANGELIST}?course__id__exact={course.pk}") in html


def test_course_change_page_without_enrollments_says_so(admin_client):
    course = CourseFactory()

    response = admin_client.get(_course_change_url(course))

    assert response.status_code == 200
    assert 'class="enrollment-list"' not in response.content.decode()


def test_course_add_page_prepopulates_the_slug_from_the_title(admin_client):
    response = admin_client.get(reverse("admin:courses_course_add"))

    assert response.status_code == 200
    html = response.content.decode()
    assert escape('"id": "#id_slug"') in html
    assert escape('"dependency_ids": ["#id_title"]') in html


def test_course_changelist_filters_and_searches(admin_client):
    CourseFactory(title="Python basics", is_active=True)
    CourseFactory(title="Rust basics", is_active=False)

    searched = admin_client.get(COURSE_CHANGELIST, {"q": "python"})
    filtered = admin_client.get(COURSE_CHANGELIST, {"is_active__exact": "0"})

    assert b"Python basics" in searched.content
    assert b"Rust basics" not in searched.content
    assert b"Rust basics" in filtered.content
    assert b"Python basics" not in filtered.content


# --- Escaping ---------------------------------------------------------------------


def test_student_name_and_email_are_escaped_on_the_course_page(admin_client):
    enrollment = EnrollmentFactory(student_name=XSS_NAME, student_email=XSS_EMAIL)

    response = admin_client.get(_course_change_url(enrollment.course))

    html = response.content.decode()
    assert XSS_NAME not in html
    assert "<script>alert(2)" not in html
    assert escape(XSS_NAME) in html
    assert escape(XSS_EMAIL) in html


def test_student_name_and_email_are_escaped_in_the_enrollment_list(admin_client):
    EnrollmentFactory(student_name=XSS_NAME, student_email=XSS_EMAIL)

    response = admin_client.get(ENROLLMENT_CHANGELIST)

    html = response.content.decode()
    assert XSS_NAME not in html
    assert "<script>alert(2)" not in html
    assert escape(XSS_NAME) in html


# --- Enrollment admin -------------------------------------------------------------


def test_enrollment_changelist_costs_the_same_queries_with_2_and_20_rows(
    admin_client,
):
    EnrollmentFactory.create_batch(2)
    with CaptureQueriesContext(connection) as with_2:
        admin_client.get(ENROLLMENT_CHANGELIST)
    EnrollmentFactory.create_batch(18)

    with CaptureQueriesContext(connection) as with_20:
        admin_client.get(ENROLLMENT_CHANGELIST)

    # The course filter lists every course, one query whatever their number.
    assert len(with_20.captured_queries) == len(with_2.captured_queries)


def test_enrollment_changelist_filters_by_status(admin_client):
    EnrollmentFactory(student_name="Paid Student", paid=True)
    EnrollmentFactory(student_name="Pending Student")

    response = admin_client.get(ENROLLMENT_CHANGELIST, {"status__exact": "paid"})

    assert b"Paid Student" in response.content
    assert b"Pending Student" not in response.content


def test_enrollment_status_cannot_be_edited_in_the_form(admin_client):
    enrollment = EnrollmentFactory()
    url = reverse("admin:courses_enrollment_change", args=[enrollment.pk])

    response = admin_client.post(
        url,
        {
            "student_email": "new@example.com",
            "student_name": "New Name",
            "price_paid": "10.00",
            "status": "paid",
            "is_paid": "on",
            # The read-only orders inline's management form, as a browser sends it.
            "orders-TOTAL_FORMS": "0",
            "orders-INITIAL_FORMS": "0",
        },
    )

    enrollment.refresh_from_db()
    assert response.status_code == 302
    assert enrollment.student_name == "New Name"
    assert enrollment.status == Enrollment.Status.PENDING
    assert enrollment.is_paid is False


def test_mark_as_paid_action_marks_pending_paid_and_logs_it(admin_client, admin_user):
    pending = EnrollmentFactory()
    failed = EnrollmentFactory(status=Enrollment.Status.FAILED)
    already_paid = EnrollmentFactory(paid=True)
    refunded = EnrollmentFactory(status=Enrollment.Status.REFUNDED)

    response = _run_action(
        admin_client, "mark_as_paid", [pending, failed, already_paid, refunded]
    )

    statuses = dict(Enrollment.objects.values_list("pk", "status"))
    assert statuses == {
        pending.pk: "paid",
        failed.pk: "paid",
        already_paid.pk: "paid",
        refunded.pk: "refunded",
    }
    assert set(
        Enrollment.objects.filter(is_paid=True).values_list("pk", flat=True)
    ) == {
        pending.pk,
        failed.pk,
        already_paid.pk,
    }
    entries = LogEntry.objects.filter(action_flag=CHANGE)
    assert sorted(int(e.object_id) for e in entries) == sorted([pending.pk, failed.pk])
    assert {e.user_id for e in entries} == {admin_user.pk}
    assert {e.change_message for e in entries} == {
        "Status changed from pending to paid by a staff action.",
        "Status changed from failed to paid by a staff action.",
    }
    levels = [m.level_tag for m in response.context["messages"]]
    assert levels == ["success", "warning"]


def test_mark_as_unpaid_action_resets_paid_enrollments_and_logs_it(
    admin_client, admin_user
):
    paid = EnrollmentFactory(paid=True)
    pending = EnrollmentFactory()

    _run_action(admin_client, "mark_as_unpaid", [paid, pending])

    paid.refresh_from_db()
    pending.refresh_from_db()
    assert (paid.status, paid.is_paid, paid.paid_at) == ("pending", False, None)
    assert pending.status == "pending"
    entry = LogEntry.objects.get()
    assert entry.object_id == str(paid.pk)
    assert entry.user_id == admin_user.pk
    assert entry.action_flag == CHANGE
    assert entry.change_message == (
        "Status changed from paid to pending by a staff action."
    )


def test_payment_actions_need_the_change_permission(client):
    viewer = User.objects.create_user(
        "viewer", password="pw-viewer-1234", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_enrollment"))
    sign_in_staff(client, viewer)
    enrollment = EnrollmentFactory()

    page = client.get(ENROLLMENT_CHANGELIST)
    _run_action(client, "mark_as_paid", [enrollment])

    enrollment.refresh_from_db()
    assert b'value="mark_as_paid"' not in page.content
    assert b'value="export_as_csv"' in page.content
    assert enrollment.status == Enrollment.Status.PENDING
    assert not LogEntry.objects.exists()


def test_export_as_csv_returns_the_selected_rows(admin_client):
    course = CourseFactory(title='Django, the "web" framework')
    chosen = EnrollmentFactory(
        course=course,
        student_name="Zoé Tremblay",
        student_email="zoe@example.com",
        price_paid=Decimal("39.90"),
        paid=True,
    )
    EnrollmentFactory(course=course, student_name="Not Selected")

    response = admin_client.post(
        ENROLLMENT_CHANGELIST,
        {"action": "export_as_csv", "_selected_action": [chosen.pk]},
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="enrollments-'
    )
    header, *rows = _csv_rows(response)
    assert len(header) == 8
    assert rows == [
        [
            "Zoé Tremblay",
            "zoe@example.com",
            'Django, the "web" framework',
            str(Enrollment.Status.PAID.label),
            "39.90",
            rows[0][5],
            rows[0][6],
            "",
        ]
    ]
    assert rows[0][5]
    assert rows[0][6]


def test_export_as_csv_neutralises_formulas(admin_client):
    names = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\t=1", "Plain"]
    enrollments = [EnrollmentFactory(student_name=name) for name in names]

    response = admin_client.post(
        ENROLLMENT_CHANGELIST,
        {"action": "export_as_csv", "_selected_action": [e.pk for e in enrollments]},
    )

    exported = sorted(row[0] for row in _csv_rows(response)[1:])
    assert exported == sorted(
        ['\'=HYPERLINK("http://x")', "'+1+1", "'-2", "'@SUM(A1)", "'\t=1", "Plain"]
    )


# --- Refund through Stripe ---------------------------------------------------------


def test_refund_action_first_shows_a_confirmation_page_and_changes_nothing(
    client, enrollment_staff, fake_stripe
):
    paid = _paid_through_stripe(fake_stripe, first_name=XSS_NAME, price="49.99")
    pending = EnrollmentFactory(student_name="Pending Student")
    marked_by_hand = EnrollmentFactory(student_name="By Hand", paid=True)

    response = _refund(
        client,
        [paid, pending, marked_by_hand],
        confirm=False,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert response.templates[0].name == (
        "admin/courses/enrollment/refund_confirmation.html"
    )
    html = response.content.decode()
    refundable, skipped = html.split('class="refund-list refund-skipped"')
    assert escape(paid.student_name) in refundable
    assert XSS_NAME not in html
    assert "49.99\u00a0CAD" in refundable
    assert paid.course.title in refundable
    assert "Pending Student" in skipped
    assert "Not paid (Pending): there is nothing to refund." in skipped
    assert "By Hand" in skipped
    assert "Paid without a Stripe payment" in skipped
    for enrollment in (paid, pending, marked_by_hand):
        assert f'name="_selected_action" value="{enrollment.pk}"' in html
    assert 'name="action" value="refund_through_stripe"' in html
    assert 'name="post" value="yes"' in html
    assert fake_stripe.requests_to("/v1/refunds") == []
    assert Enrollment.objects.filter(status=Enrollment.Status.PAID).count() == 2
    assert not LogEntry.objects.exists()


def test_refund_confirmation_without_anything_refundable_offers_no_button(
    client, enrollment_staff, fake_stripe
):
    pending = EnrollmentFactory()

    response = _refund(client, [pending], confirm=False, HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert "None of the selected enrollments can be refunded" in html
    assert 'value="Yes, refund through Stripe"' not in html


def test_confirmed_refund_refunds_through_stripe_and_logs_who_did_it(
    client, enrollment_staff, fake_stripe
):
    enrollment = _paid_through_stripe(fake_stripe, price="39.90")

    response = _refund(client, [enrollment], confirm=True, HTTP_ACCEPT_LANGUAGE="en")

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.REFUNDED
    assert enrollment.is_paid is False
    assert enrollment.refunded_at is not None
    (request,) = fake_stripe.requests_to("/v1/refunds", "POST")
    assert request.params["payment_intent"] == enrollment.stripe_payment_intent_id
    (refund,) = fake_stripe.refunds
    assert refund["amount"] == 3990
    assert _messages(response) == [
        (
            "success",
            f"Enrollment {enrollment.pk} (Ada Lovelace, {enrollment.course.title}): "
            "39.90\u00a0CAD refunded through Stripe.",
        )
    ]
    entry = LogEntry.objects.get()
    assert entry.object_id == str(enrollment.pk)
    assert entry.user == enrollment_staff
    assert entry.action_flag == CHANGE
    assert entry.change_message == (
        "Status changed from paid to refunded by a staff action: "
        "refunded through Stripe."
    )


def test_refund_messages_are_french_by_default(client, enrollment_staff, fake_stripe):
    enrollment = _paid_through_stripe(fake_stripe, price="39.90")

    response = _refund(client, [enrollment], confirm=True)

    ((level, message),) = _messages(response)
    assert level == "success"
    assert message == (
        f"Inscription {enrollment.pk} (Ada Lovelace, {enrollment.course.title}) : "
        "39,90\u00a0CAD remboursés par Stripe."
    )


def test_refund_skips_enrollments_that_are_not_paid_with_a_message_each(
    client, enrollment_staff, fake_stripe
):
    paid = _paid_through_stripe(fake_stripe)
    pending = EnrollmentFactory(student_name="Pending Student")
    refunded = EnrollmentFactory(
        student_name="Refunded Student", status=Enrollment.Status.REFUNDED
    )

    response = _refund(
        client, [paid, pending, refunded], confirm=True, HTTP_ACCEPT_LANGUAGE="en"
    )

    statuses = dict(Enrollment.objects.values_list("pk", "status"))
    assert statuses == {
        paid.pk: "refunded",
        pending.pk: "pending",
        refunded.pk: "refunded",
    }
    assert len(fake_stripe.requests_to("/v1/refunds", "POST")) == 1
    refunded_message, *skipped_messages = _messages(response)
    assert refunded_message[0] == "success"
    assert skipped_messages == [
        (
            "warning",
            f"Enrollment {pending.pk} (Pending Student, {pending.course.title}) "
            "skipped: Not paid (Pending): there is nothing to refund.",
        ),
        (
            "warning",
            f"Enrollment {refunded.pk} (Refunded Student, {refunded.course.title}) "
            "skipped: Already refunded.",
        ),
    ]
    assert [int(e.object_id) for e in LogEntry.objects.all()] == [paid.pk]


def test_refund_reports_a_stripe_error_in_plain_words_and_changes_nothing(
    client, enrollment_staff, fake_stripe
):
    enrollment = _paid_through_stripe(fake_stripe)
    fake_stripe.fail_with(500)

    response = _refund(client, [enrollment], confirm=True, HTTP_ACCEPT_LANGUAGE="en")

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.is_paid is True
    assert enrollment.refunded_at is None
    assert len(fake_stripe.requests_to("/v1/refunds", "POST")) == 1
    assert _messages(response) == [
        (
            "error",
            f"Enrollment {enrollment.pk} (Ada Lovelace, {enrollment.course.title}) "
            "not refunded, nothing was changed: Stripe could not be reached or "
            "answered with an error. Try again in a few minutes.",
        )
    ]
    assert not LogEntry.objects.exists()


def test_refund_after_a_stripe_error_refunds_once(
    client, enrollment_staff, fake_stripe
):
    enrollment = _paid_through_stripe(fake_stripe)
    fake_stripe.fail_with(500, times=1)
    _refund(client, [enrollment], confirm=True)

    _refund(client, [enrollment], confirm=True)

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.REFUNDED
    assert len(fake_stripe.refunds) == 1
    assert LogEntry.objects.count() == 1


def test_refund_without_stripe_configured_says_so(
    client, enrollment_staff, fake_stripe, settings
):
    enrollment = _paid_through_stripe(fake_stripe)
    settings.STRIPE_SECRET_KEY = ""

    response = _refund(client, [enrollment], confirm=True, HTTP_ACCEPT_LANGUAGE="en")

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    ((level, message),) = _messages(response)
    assert level == "error"
    assert message.endswith(
        "not refunded, nothing was changed: "
        "payments are not configured (STRIPE_SECRET_KEY is empty)."
    )


@pytest.mark.parametrize(
    "codenames",
    [["view_enrollment"], ["view_enrollment", "change_enrollment"]],
    ids=["viewer", "editor"],
)
def test_refund_action_needs_the_refund_permission(client, fake_stripe, codenames):
    staff = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    sign_in_staff(client, staff)
    enrollment = _paid_through_stripe(fake_stripe)

    page = client.get(ENROLLMENT_CHANGELIST)
    confirmation = _refund(client, [enrollment], confirm=False)
    _refund(client, [enrollment], confirm=True)

    assert b'value="refund_through_stripe"' not in page.content
    assert b"refund-list" not in confirmation.content
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    assert fake_stripe.requests_to("/v1/refunds", "POST") == []
    assert not LogEntry.objects.exists()


def test_site_titles_come_from_the_catalog(admin_client):
    with translation.override("fr"):
        header = gettext("Course Platform administration")
        index_title = gettext("Dashboard")
    response = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="fr")

    html = response.content.decode()
    assert escape(header) in html
    assert escape(index_title) in html


def test_admin_css_is_served_by_whitenoise_with_debug_off(client):
    login = client.get(reverse("admin:login"))
    css_url = re.search(
        r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', login.content.decode()
    )

    response = client.get(css_url.group(1))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "immutable" in response["Cache-Control"]


# --- Services ----------------------------------------------------------------------


def test_enrollment_mark_paid_by_staff_returns_changed_and_skipped(admin_user):
    pending = EnrollmentFactory()
    paid = EnrollmentFactory(paid=True)

    result = enrollment_mark_paid_by_staff(
        enrollment_ids=[pending.pk, paid.pk], user=admin_user
    )

    assert [e.pk for e in result.changed] == [pending.pk]
    assert [e.pk for e in result.skipped] == [paid.pk]


def test_enrollment_mark_unpaid_by_staff_ignores_unknown_ids(admin_user):
    result = enrollment_mark_unpaid_by_staff(enrollment_ids=[999_999], user=admin_user)

    assert result.changed == result.skipped == []
    assert not LogEntry.objects.exists()


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def test_export_as_csv_quotes_every_cell_and_round_trips_safely(admin_client):
    names = [
        "Bob;=cmd|' /C calc'!A0",
        "Smith, -1+1",
        'Line\n@SUM(A1) "quoted"\r-2',
        "Zoé;  +33 1 23",
        "Jean-Paul Dupont",
    ]
    for name in names:
        EnrollmentFactory(
            student_name=name, student_email="jean-paul@example.com", paid=True
        )

    response = admin_client.post(
        ENROLLMENT_CHANGELIST,
        {
            "action": "export_as_csv",
            "_selected_action": list(Enrollment.objects.values_list("pk", flat=True)),
        },
    )

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    # Written back with every cell quoted, the rows give the very same text.
    rewritten = io.StringIO()
    csv.writer(rewritten, quoting=csv.QUOTE_ALL).writerows(rows)
    assert rewritten.getvalue() == body
    assert {len(row) for row in rows} == {8}
    assert sorted(row[0] for row in rows[1:]) == sorted(
        [
            "Bob;'=cmd|' /C calc'!A0",
            "Smith,' -1+1",
            "Line\n'@SUM(A1) \"quoted\"\r'-2",
            "Zoé;'  +33 1 23",
            "Jean-Paul Dupont",
        ]
    )
    # A spreadsheet that splits on ";", "," or line breaks, quotes or not,
    # finds no cell that starts a formula.
    for piece in re.split(r"[;,\r\n]", body):
        assert not piece.lstrip(' "').startswith(FORMULA_TRIGGERS), piece


def test_enrollment_export_csv_quotes_separators_and_newlines():
    EnrollmentFactory(student_name='Line one\nLine "two", three')

    body = "".join(enrollment_export_csv(enrollments=Enrollment.objects.all()))

    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][0] == 'Line one\nLine "two", three'
    assert body.endswith("\r\n")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_mark_paid_changes_and_logs_once(admin_user):
    enrollment = EnrollmentFactory()
    results = []
    barrier = threading.Barrier(2)

    def mark():
        barrier.wait()
        try:
            results.append(
                enrollment_mark_paid_by_staff(
                    enrollment_ids=[enrollment.pk], user=admin_user
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=mark) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(r.changed) for r in results) == [0, 1]
    assert LogEntry.objects.count() == 1
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID


def test_course_changelist_sorts_by_enrollment_count(admin_client):
    popular = CourseFactory(title="Popular")
    EnrollmentFactory.create_batch(3, course=popular, paid=True)
    CourseFactory(title="Quiet")
    column = CourseAdmin.list_display.index("enrollment_count_display") + 1

    response = admin_client.get(COURSE_CHANGELIST, {"o": f"-{column}"})

    titles = [course.title for course in response.context["cl"].result_list]
    assert titles == ["Popular", "Quiet"]
