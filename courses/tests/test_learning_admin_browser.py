"""Staff build a course's outline in the admin, through Debian's Chromium, and
the API shows it."""

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

from courses.models import Lesson, Section
from courses.tests import test_admin_browser as browser
from courses.tests.factories import CourseFactory
from courses.tests.staff import staff_device

# The browser fixtures of the admin's browser tests, shared.
_browser_settings = browser._browser_settings
page = browser.page
screenshot = browser.screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def content_staff() -> User:
    """A staff member who may edit courses, sections and lessons, no more, with
    an authenticator app set up."""
    user = User.objects.create_user(
        "editor", "editor@example.com", browser.STAFF_PASSWORD, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="courses",
            codename__in=[
                "view_course",
                "change_course",
                "add_section",
                "change_section",
                "view_section",
                "add_lesson",
                "change_lesson",
                "view_lesson",
            ],
        )
    )
    staff_device(user)
    return user


def test_staff_add_a_section_and_two_lessons_and_the_outline_shows_them(
    page, live_server, screenshot, content_staff
):
    course = CourseFactory(title="Rust pour tous")
    browser._log_in(page, live_server, screenshot, content_staff)

    # The course's page: one empty section row is offered inline.
    page.goto(f"{live_server.url}/admin/courses/course/{course.pk}/change/")
    page.fill("#id_sections-0-title", "Premiers pas")
    page.fill("#id_sections-0-position", "0")
    screenshot(page, "course-with-section")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    section = Section.objects.get(course=course)

    # The section's page, through the inline's change link: lessons inline.
    page.click(f"a[href$='/admin/courses/section/{section.pk}/change/']")
    page.locator("#id_lessons-0-title").press_sequentially("Installer Rust")
    expect(page.locator("#id_lessons-0-slug")).to_have_value("installer-rust")
    page.check("#id_lessons-0-is_preview")
    page.fill("#id_lessons-0-duration_seconds", "300")
    page.fill("#id_lessons-0-body", "# Bienvenue\n\n<script>alert(1)</script>")
    page.click("#lessons-group .add-row a")
    page.locator("#id_lessons-1-title").press_sequentially("Les variables")
    expect(page.locator("#id_lessons-1-slug")).to_have_value("les-variables")
    page.fill("#id_lessons-1-position", "1")
    page.select_option("#id_lessons-1-kind", "video")
    page.fill("#id_lessons-1-video_url", "https://videos.example.com/vars.mp4")
    page.fill("#id_lessons-1-duration_seconds", "600")
    screenshot(page, "section-with-lessons")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    screenshot(page, "saved")

    outline = page.request.get(f"{live_server.url}/api/courses/{course.pk}/outline/")
    assert outline.status == 200
    body = outline.json()
    assert body["lesson_count"] == 2
    assert body["duration_seconds"] == 900
    assert [s["title"] for s in body["sections"]] == ["Premiers pas"]
    lessons = body["sections"][0]["lessons"]
    assert [(x["title"], x["kind"], x["is_preview"]) for x in lessons] == [
        ("Installer Rust", "text", True),
        ("Les variables", "video", False),
    ]
    preview = page.request.get(f"{live_server.url}/api/lessons/{lessons[0]['id']}/")
    assert preview.status == 200
    assert "<script" not in preview.json()["body_html"]
    locked = page.request.get(f"{live_server.url}/api/lessons/{lessons[1]['id']}/")
    assert locked.status == 401
    assert sorted(
        Lesson.objects.filter(course=course).values_list("slug", flat=True)
    ) == [
        "installer-rust",
        "les-variables",
    ]

    # The admin's own preview of the body is the sanitised one.
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_server.url}/admin/courses/lesson/{lessons[0]['id']}/change/")
    expect(page.locator(".lesson-body-preview h1")).to_have_text("Bienvenue")
    screenshot(page, "lesson-preview")
    assert page.locator(".lesson-body-preview script").count() == 0
    assert dialogs == []
