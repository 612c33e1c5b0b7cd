"""The staff admin driven through Debian's Chromium, against a live server.

Skipped, with the reason, where Chromium is missing (conftest.py); CHROMIUM_PATH
names another executable.

Each page visited is saved as artifacts/screenshots/<test>-<step>.png.
"""

import csv
import io
import os
import re
from base64 import b32decode
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.db import connections
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect, sync_playwright

from courses.models import Course, Enrollment
from courses.tests.environment import chromium_path
from courses.tests.factories import CourseFactory, EnrollmentFactory
from courses.tests.staff import staff_device, totp_code
from courses.tests.test_admin import _paid_through_stripe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "artifacts" / "screenshots"
XSS_NAME = "<img src=x onerror=alert(1)>"
STAFF_PASSWORD = "staff-password-for-tests-only"


@pytest.fixture(autouse=True)
def _browser_settings(settings, monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread, which
    # makes Django refuse ORM calls here unless told they are safe (they are:
    # nothing else runs in this thread).
    # (Django's own switch, not a setting of this project.)
    monkeypatch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server serves static files from the apps' folders, by their
    # plain names; the hashed names of the production manifest are covered by
    # test_admin.py::test_admin_css_is_served_by_whitenoise_with_debug_off.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture
def page(live_server):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(
            locale="fr-FR", viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # While Playwright's loop runs, Django keeps this thread's database
            # connections apart from the usual ones (per async context): close
            # them here, or they outlive the test database.
            connections.close_all()


@pytest.fixture
def screenshot(request):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, step: str) -> None:
        name = re.sub(r"[^\w.-]+", "_", f"{request.node.name}-{step}")
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take


@pytest.fixture
def staff_user() -> User:
    """A staff member who may look after courses and enrollments (refunds
    included), not a superuser, with an authenticator app set up."""
    user = User.objects.create_user(
        "staff", "staff@example.com", STAFF_PASSWORD, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="courses",
            codename__in=[
                "add_course",
                "change_course",
                "view_course",
                "view_enrollment",
                "change_enrollment",
                "refund_enrollment",
            ],
        )
    )
    staff_device(user)
    return user


def _log_in(page: Page, live_server, screenshot, user: User) -> None:
    """Sign in as staff do: the password, then the code their authenticator
    app shows, computed here from the device's key."""
    page.goto(f"{live_server.url}/admin/")
    screenshot(page, "login")
    page.fill("#id_username", user.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#second-factor-form")).to_be_visible()
    screenshot(page, "second-factor")
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    page.fill("#id_code", totp_code(device.bin_key))
    page.click("#second-factor-form input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()
    screenshot(page, "dashboard")


def _run_action(page: Page, action: str, enrollments: list[Enrollment]) -> None:
    for enrollment in enrollments:
        page.check(f"input[name=_selected_action][value='{enrollment.pk}']")
    page.select_option("select[name=action]", action)


def test_admin_css_loads_with_debug_off(page, live_server, screenshot, staff_user):
    statuses = {}
    page.on("response", lambda r: statuses.setdefault(r.url, r.status))

    _log_in(page, live_server, screenshot, staff_user)

    assert django_settings.DEBUG is False
    assert statuses[f"{live_server.url}/static/admin/css/base.css"] == 200
    header_colour = page.eval_on_selector(
        "#header", "e => getComputedStyle(e).backgroundColor"
    )
    assert header_colour not in ("", "rgba(0, 0, 0, 0)")


def test_staff_creates_a_course_by_typing_title_price_and_description(
    page, live_server, screenshot, staff_user
):
    _log_in(page, live_server, screenshot, staff_user)
    page.goto(f"{live_server.url}/admin/courses/course/add/")

    # Typed key by key: the slug is filled by the admin's JavaScript on keyup.
    page.locator("#id_title").press_sequentially("Découvrir Playwright")
    page.fill("#id_price", "49.00")
    page.fill("#id_description", "Tester une interface dans un vrai navigateur.")
    expect(page.locator("#id_slug")).to_have_value("decouvrir-playwright")
    screenshot(page, "add-form")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist .success")).to_be_visible()
    screenshot(page, "saved")
    course = Course.objects.get(slug="decouvrir-playwright")
    assert course.title == "Découvrir Playwright"
    assert course.price == Decimal("49.00")
    assert course.is_active is True
    api = page.request.get(f"{live_server.url}/api/courses/")
    assert api.status == 200
    assert "Découvrir Playwright" in [c["title"] for c in api.json()["results"]]


def test_course_page_shows_the_badge_and_the_enrollments_as_text(
    page, live_server, screenshot, staff_user
):
    course = CourseFactory(title="Sécurité web")
    EnrollmentFactory.create_batch(2, course=course, paid=True)
    EnrollmentFactory(course=course, student_name=XSS_NAME)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _log_in(page, live_server, screenshot, staff_user)

    page.goto(f"{live_server.url}/admin/courses/course/")
    screenshot(page, "course-list")
    expect(page.locator(".enrollment-badge")).to_have_text("2")

    page.goto(f"{live_server.url}/admin/courses/course/{course.pk}/change/")
    screenshot(page, "course-page")
    badge = page.locator(".field-enrollment_count_display .enrollment-badge")
    expect(badge).to_have_text("2")
    table = page.locator("table.enrollment-list")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.get_by_text(XSS_NAME, exact=True)).to_be_visible()
    assert page.locator("img[src=x]").count() == 0

    page.goto(f"{live_server.url}/admin/courses/enrollment/")
    screenshot(page, "enrollment-list")
    expect(page.get_by_text(XSS_NAME, exact=True)).to_be_visible()
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_mark_as_paid_turns_a_pending_enrollment_paid_and_logs_it(
    page, live_server, screenshot, staff_user
):
    enrollment = EnrollmentFactory(student_name="Léa Martin")
    _log_in(page, live_server, screenshot, staff_user)
    page.goto(f"{live_server.url}/admin/courses/enrollment/")

    _run_action(page, "mark_as_paid", [enrollment])
    screenshot(page, "selected")
    page.click("button[name=index]")

    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator(".enrollment-status-paid")).to_have_count(1)
    screenshot(page, "done")
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.is_paid is True
    assert enrollment.paid_at is not None
    entry = LogEntry.objects.get(object_id=str(enrollment.pk))
    assert entry.user == staff_user
    assert entry.action_flag == CHANGE
    page.goto(f"{live_server.url}/admin/courses/enrollment/{enrollment.pk}/history/")
    screenshot(page, "history")
    expect(page.locator("#change-history")).to_contain_text("pending to paid")


def test_csv_export_downloads_the_selected_rows(
    page, live_server, screenshot, staff_user
):
    course = CourseFactory(title="Analyse de données")
    first = EnrollmentFactory(course=course, student_name="Ana Gomes", paid=True)
    second = EnrollmentFactory(course=course, student_name="=1+1")
    EnrollmentFactory(course=course, student_name="Not Selected")
    _log_in(page, live_server, screenshot, staff_user)
    page.goto(f"{live_server.url}/admin/courses/enrollment/")

    _run_action(page, "export_as_csv", [first, second])
    screenshot(page, "selected")
    with page.expect_download() as download_info:
        page.click("button[name=index]")
    download = download_info.value

    assert re.fullmatch(r"enrollments-\d{8}-\d{6}\.csv", download.suggested_filename)
    body = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 3
    assert sorted(row[0] for row in rows[1:]) == ["'=1+1", "Ana Gomes"]
    assert {row[2] for row in rows[1:]} == {"Analyse de données"}


def test_refund_through_stripe_asks_for_confirmation_then_refunds(
    page, live_server, screenshot, staff_user, fake_stripe
):
    enrollment = _paid_through_stripe(fake_stripe, first_name="Chloé")
    pending = EnrollmentFactory(student_name="Paul Pending")
    _log_in(page, live_server, screenshot, staff_user)
    page.goto(f"{live_server.url}/admin/courses/enrollment/")

    _run_action(page, "refund_through_stripe", [enrollment, pending])
    page.click("button[name=index]")
    expect(page.locator("table.refund-refundable tbody tr")).to_have_count(1)
    expect(page.locator("table.refund-skipped")).to_contain_text("Paul Pending")
    screenshot(page, "confirmation")
    assert fake_stripe.refunds == []
    page.click("form input[type=submit]")

    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator(".messagelist .warning")).to_contain_text("Paul Pending")
    screenshot(page, "done")
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.REFUNDED
    assert len(fake_stripe.refunds) == 1
    assert LogEntry.objects.get().user == staff_user


def test_a_new_staff_member_sets_up_an_authenticator_from_the_page(
    page, live_server, screenshot
):
    user = User.objects.create_superuser("root", "root@example.com", STAFF_PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")

    # Nothing else of the admin before the device is set up.
    expect(page.locator("#otpauth-uri")).to_contain_text("otpauth://totp/")
    page.goto(f"{live_server.url}/admin/courses/enrollment/")
    expect(page.locator("#otpauth-uri")).to_be_visible()
    assert page.locator("img.qr-code").evaluate("img => img.naturalWidth") > 0
    screenshot(page, "setup")
    # What a person types in the app: the key shown, in groups of four.
    key = b32decode(page.locator("#totp-secret").inner_text().replace(" ", ""))
    page.fill("#id_code", totp_code(key))
    page.click("#second-factor-form input[type=submit]")

    expect(page.locator("#user-tools")).to_be_visible()
    assert page.url == f"{live_server.url}/admin/courses/enrollment/"
    page.goto(f"{live_server.url}/admin/")
    screenshot(page, "dashboard")
    page.goto(f"{live_server.url}/admin/courses/staffsigninevent/")
    screenshot(page, "sign-in-record")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#result_list")).to_contain_text("root")
