"""The admin's sections and lessons: inlines, lists, filters, sanitised preview."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from courses.models import Lesson, Section
from courses.tests.factories import CourseFactory, LessonFactory, SectionFactory

pytestmark = pytest.mark.django_db

XSS_TITLE = "<img src=x onerror=alert(1)>"
LESSON_CHANGELIST = reverse("admin:courses_lesson_changelist")


@pytest.fixture(autouse=True)
def _plain_static(settings):
    # Templates name static files; without collectstatic's manifest, by name.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


def _management(prefix: str, total: int, initial: int) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _lesson_form(index: int, **values) -> dict[str, str]:
    defaults = {
        "title": "A lesson",
        "slug": "a-lesson",
        "position": "0",
        "kind": "text",
        "duration_seconds": "60",
        "is_published": "on",
        "video_url": "",
        "body": "",
    }
    return {f"lessons-{index}-{k}": v for k, v in {**defaults, **values}.items()}


def _section_change(admin_client, section, lessons: list[dict[str, str]]):
    data = {"title": section.title, "position": str(section.position)}
    data.update(_management("lessons", len(lessons), 0))
    for form in lessons:
        data.update(form)
    return admin_client.post(
        reverse("admin:courses_section_change", args=[section.pk]), data
    )


def test_course_list_shows_lesson_counts_in_a_fixed_number_of_queries(admin_client):
    url = reverse("admin:courses_course_changelist")
    LessonFactory.create_batch(2, section=SectionFactory())
    with CaptureQueriesContext(connection) as for_one:
        admin_client.get(url)
    for _ in range(4):
        section = SectionFactory()
        LessonFactory.create_batch(3, section=section)
        LessonFactory(section=section, is_published=False)

    with CaptureQueriesContext(connection) as for_five:
        response = admin_client.get(url)

    assert len(for_five.captured_queries) == len(for_one.captured_queries)
    html = response.content.decode()
    assert html.count('<td class="field-lesson_count_display">3</td>') == 4
    assert html.count('<td class="field-lesson_count_display">2</td>') == 1


def test_course_page_edits_its_sections_inline_in_order(admin_client):
    course = CourseFactory()
    SectionFactory(course=course, title="Second", position=2)
    first = SectionFactory(course=course, title="First", position=1)
    LessonFactory.create_batch(2, section=first)

    response = admin_client.get(
        reverse("admin:courses_course_change", args=[course.pk])
    )

    html = response.content.decode()
    assert html.index('value="First"') < html.index('value="Second"')
    counts = re.findall(r'field-lesson_count">\s*<p>(\d+)</p>', html)
    assert counts == ["2", "0"]


def test_section_page_adds_lessons_inline(admin_client):
    section = SectionFactory(title="Basics")

    response = _section_change(
        admin_client,
        section,
        [
            _lesson_form(0, title="Variables", slug="variables", position="1"),
            _lesson_form(1, title="Loops", slug="loops", position="2", kind="video"),
        ],
    )

    assert response.status_code == 302
    lessons = list(section.lessons.order_by("position"))
    assert [lesson.slug for lesson in lessons] == ["variables", "loops"]
    assert {lesson.course_id for lesson in lessons} == {section.course_id}


def test_two_new_lessons_with_one_slug_are_a_form_error_not_a_crash(admin_client):
    section = SectionFactory()

    response = _section_change(
        admin_client,
        section,
        [_lesson_form(0, slug="same"), _lesson_form(1, slug="same")],
    )

    assert response.status_code == 200
    assert (
        "same"
        in response.context["inline_admin_formsets"][0].formset.non_form_errors()[0]
    )
    assert not Lesson.objects.exists()


def test_a_slug_taken_in_another_section_of_the_course_is_a_form_error(admin_client):
    taken = LessonFactory(slug="intro")
    section = SectionFactory(course=taken.course)

    response = _section_change(admin_client, section, [_lesson_form(0, slug="intro")])

    assert response.status_code == 200
    assert Lesson.objects.count() == 1
    assert "slug" in response.context["inline_admin_formsets"][0].formset.errors[0]


def test_a_sections_course_cannot_be_changed_once_created(admin_client):
    section = SectionFactory()
    other = CourseFactory()

    admin_client.post(
        reverse("admin:courses_section_change", args=[section.pk]),
        {
            "course": str(other.pk),
            "title": "Moved?",
            "position": "0",
            **_management("lessons", 0, 0),
        },
    )

    section.refresh_from_db()
    assert section.course_id != other.pk
    assert section.title == "Moved?"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind__exact=video", {"Clip"}),
        ("is_preview__exact=1", {"Free"}),
        ("is_published__exact=0", {"Draft"}),
        ("q=draf", {"Draft"}),
        ("q=python", {"Clip", "Free", "Draft"}),
    ],
)
def test_lesson_list_filters_and_searches(admin_client, query, expected):
    python = CourseFactory(title="Python")
    section = SectionFactory(course=python)
    LessonFactory(section=section, title="Clip", kind="video")
    LessonFactory(section=section, title="Free", is_preview=True)
    LessonFactory(section=section, title="Draft", is_published=False)
    LessonFactory(title="Elsewhere")

    response = admin_client.get(f"{LESSON_CHANGELIST}?{query}")

    shown = {lesson.title for lesson in response.context["cl"].result_list}
    assert shown == expected


def test_lesson_list_filters_by_course(admin_client):
    lesson = LessonFactory()
    LessonFactory()

    response = admin_client.get(
        f"{LESSON_CHANGELIST}?course__id__exact={lesson.course_id}"
    )

    assert list(response.context["cl"].result_list) == [lesson]


def test_lesson_list_escapes_titles_and_costs_fixed_queries(admin_client):
    LessonFactory(title=XSS_TITLE)
    with CaptureQueriesContext(connection) as for_one:
        admin_client.get(LESSON_CHANGELIST)
    LessonFactory.create_batch(6)

    with CaptureQueriesContext(connection) as for_seven:
        response = admin_client.get(LESSON_CHANGELIST)

    assert len(for_seven.captured_queries) == len(for_one.captured_queries)
    html = response.content.decode()
    assert XSS_TITLE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_lesson_page_previews_the_sanitised_body(admin_client):
    lesson = LessonFactory(
        body=(
            "# Title\n\n<script>alert(1)</script>"
            '<img src="x.png" onerror="alert(2)">[go](javascript:alert(3))'
        )
    )

    response = admin_client.get(
        reverse("admin:courses_lesson_change", args=[lesson.pk])
    )

    html = response.content.decode()
    preview = html.split('class="lesson-body-preview"')[1].split("</div>")[0]
    assert "<h1>Title</h1>" in preview
    assert "<script" not in preview
    assert "onerror" not in preview
    assert 'href="javascript' not in preview


def test_section_list_counts_lessons_and_searches_by_course(admin_client):
    section = SectionFactory(title="Basics", course=CourseFactory(title="Rust"))
    LessonFactory.create_batch(2, section=section)
    SectionFactory(title="Other")

    response = admin_client.get(reverse("admin:courses_section_changelist") + "?q=rust")

    rows = list(response.context["cl"].result_list)
    assert rows == [section]
    assert rows[0].lessons_total == 2
    assert Section.objects.count() == 2


def test_section_autocomplete_names_the_course(admin_client):
    SectionFactory(title="Basics", course=CourseFactory(title="Rust"))
    SectionFactory(title="Basics", course=CourseFactory(title="Go"))

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "courses",
            "model_name": "lesson",
            "field_name": "section",
            "term": "basics",
        },
    )

    names = sorted(result["text"] for result in response.json()["results"])
    assert names == ["Go / Basics", "Rust / Basics"]
