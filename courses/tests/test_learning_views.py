"""Outlines, lessons and their completion over HTTP: who may open what, and the
shapes the frontend codes against."""

import pytest

from courses.authentication import ClerkUser
from courses.models import Enrollment, LessonProgress
from courses.services import payments
from courses.tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
    SectionFactory,
)
from courses.tests.test_admin import _paid_through_stripe

pytestmark = pytest.mark.django_db

STUDENT = "user_student"
OUTLINE_LESSON_FIELDS = {
    "id",
    "slug",
    "title",
    "kind",
    "duration_seconds",
    "is_preview",
    "is_completed",
}
LESSON_FIELDS = {
    "id",
    "course",
    "section",
    "title",
    "slug",
    "kind",
    "duration_seconds",
    "is_preview",
    "body",
    "body_html",
    "video_url",
    "previous_lesson_id",
    "next_lesson_id",
    "is_completed",
}
PROGRESS_FIELDS = {
    "completed_lessons",
    "total_lessons",
    "percent",
    "next_lesson_id",
    "completed_at",
}


@pytest.fixture
def student() -> ClerkUser:
    return ClerkUser(clerk_user_id=STUDENT, email="student@example.com")


@pytest.fixture
def student_client(api_client, student):
    api_client.force_authenticate(user=student)
    return api_client


@pytest.fixture
def course():
    """Two sections: Introduction (preview, lesson, draft) and Basics (two lessons)."""
    course = CourseFactory(title="Python")
    basics = SectionFactory(course=course, title="Basics", position=1)
    intro = SectionFactory(course=course, title="Introduction", position=0)
    LessonFactory(
        section=intro,
        title="Welcome",
        position=0,
        kind="video",
        video_url="https://videos.example.com/welcome.mp4",
        is_preview=True,
        duration_seconds=60,
    )
    LessonFactory(section=intro, title="Installing", position=1, duration_seconds=120)
    LessonFactory(section=intro, title="Draft", position=2, is_published=False)
    # Created before "Variables" but placed after it by position.
    LessonFactory(section=basics, title="Functions", position=5, duration_seconds=300)
    LessonFactory(section=basics, title="Variables", position=2, duration_seconds=240)
    return course


def _lesson(course, title):
    return course.lessons.get(title=title)


def _enroll(course, status: str | None, clerk_user_id: str = STUDENT):
    if status is None:
        return None
    return EnrollmentFactory(
        course=course,
        clerk_user_id=clerk_user_id,
        status=status,
        is_paid=status == Enrollment.Status.PAID,
    )


# --- GET /api/courses/{id}/outline/ -----------------------------------------------


def test_outline_lists_published_lessons_by_section_in_order(api_client, course):
    response = api_client.get(f"/api/courses/{course.pk}/outline/")

    assert response.status_code == 200
    body = response.json()
    assert body["course"] == course.pk
    assert body["lesson_count"] == 4
    assert body["duration_seconds"] == 60 + 120 + 300 + 240
    assert [s["title"] for s in body["sections"]] == ["Introduction", "Basics"]
    assert set(body["sections"][0]) == {"id", "title", "position", "lessons"}
    titles = [[lesson["title"] for lesson in s["lessons"]] for s in body["sections"]]
    assert titles == [["Welcome", "Installing"], ["Variables", "Functions"]]
    welcome = body["sections"][0]["lessons"][0]
    assert set(welcome) == OUTLINE_LESSON_FIELDS
    assert welcome["kind"] == "video"
    assert welcome["is_preview"] is True
    assert welcome["is_completed"] is False


def test_outline_never_shows_bodies_or_video_urls(student_client, course):
    _enroll(course, Enrollment.Status.PAID)

    response = student_client.get(f"/api/courses/{course.pk}/outline/")

    text = response.content.decode()
    assert "body" not in text
    assert "video_url" not in text
    assert "videos.example.com" not in text


def test_outline_orders_sections_of_equal_position_by_id(api_client):
    course = CourseFactory()
    first = SectionFactory(course=course, title="First", position=0)
    second = SectionFactory(course=course, title="Second", position=0)
    LessonFactory(section=second, position=0)
    LessonFactory(section=first, position=0)

    response = api_client.get(f"/api/courses/{course.pk}/outline/")

    assert [s["title"] for s in response.json()["sections"]] == ["First", "Second"]


def test_outline_leaves_out_sections_without_published_lessons(api_client, course):
    empty = SectionFactory(course=course, title="Coming soon", position=9)
    LessonFactory(section=empty, is_published=False)
    SectionFactory(course=course, title="Nothing yet", position=10)

    response = api_client.get(f"/api/courses/{course.pk}/outline/")

    titles = [s["title"] for s in response.json()["sections"]]
    assert titles == ["Introduction", "Basics"]


def test_outline_of_a_course_without_lessons_is_empty(api_client):
    course = CourseFactory()

    response = api_client.get(f"/api/courses/{course.pk}/outline/")

    assert response.status_code == 200
    assert response.json() == {
        "course": course.pk,
        "lesson_count": 0,
        "duration_seconds": 0,
        "sections": [],
    }


def test_outline_marks_the_callers_completed_lessons_only(student_client, course):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    LessonProgressFactory(enrollment=enrollment, lesson=_lesson(course, "Installing"))
    someone = _enroll(course, Enrollment.Status.PAID, clerk_user_id="user_other")
    LessonProgressFactory(enrollment=someone, lesson=_lesson(course, "Variables"))

    response = student_client.get(f"/api/courses/{course.pk}/outline/")

    completed = {
        lesson["title"]: lesson["is_completed"]
        for section in response.json()["sections"]
        for lesson in section["lessons"]
    }
    assert completed == {
        "Welcome": False,
        "Installing": True,
        "Variables": False,
        "Functions": False,
    }


def test_anonymous_outline_depends_on_the_course_only(api_client, course):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    LessonProgressFactory(enrollment=enrollment, lesson=_lesson(course, "Installing"))
    anonymous = api_client.get(f"/api/courses/{course.pk}/outline/")
    api_client.force_authenticate(user=ClerkUser(clerk_user_id=STUDENT))

    signed_in = api_client.get(f"/api/courses/{course.pk}/outline/")

    flags = [
        lesson["is_completed"]
        for section in anonymous.json()["sections"]
        for lesson in section["lessons"]
    ]
    assert flags == [False, False, False, False]
    assert anonymous.json() != signed_in.json()


@pytest.mark.parametrize("path", ["{inactive}", "999999", "99999999999999999999999"])
def test_outline_of_an_inactive_or_unknown_course_is_a_404(api_client, path):
    inactive = CourseFactory(is_active=False)
    LessonFactory(section__course=inactive)

    response = api_client.get(
        f"/api/courses/{path.format(inactive=inactive.pk)}/outline/"
    )

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_outline_of_a_non_numeric_id_is_a_json_404(api_client):
    response = api_client.get("/api/courses/abc/outline/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_outline_refuses_other_methods_with_a_405(student_client, course):
    response = student_client.post(f"/api/courses/{course.pk}/outline/")

    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


# --- Course detail: lesson_count and duration_seconds ------------------------------


def test_course_detail_counts_published_lessons_and_their_duration(api_client, course):
    by_id = api_client.get(f"/api/courses/{course.pk}/")
    by_slug = api_client.get(f"/api/courses/slug/{course.slug}/")

    assert by_id.json()["lesson_count"] == 4
    assert by_id.json()["duration_seconds"] == 720
    assert by_slug.json()["lesson_count"] == 4
    assert by_slug.json()["duration_seconds"] == 720


def test_course_detail_without_lessons_counts_zero(api_client):
    course = CourseFactory()

    response = api_client.get(f"/api/courses/{course.pk}/")

    assert response.json()["lesson_count"] == 0
    assert response.json()["duration_seconds"] == 0


# --- GET /api/lessons/{id}/: the access matrix ------------------------------------

CALLERS = [None, "anonymous", "pending", "failed", "expired", "paid", "refunded"]
LESSONS = ["preview", "members_only", "unpublished", "inactive_course"]


def _matrix_lessons():
    active = CourseFactory()
    inactive = CourseFactory(is_active=False)
    section = SectionFactory(course=active)
    return (
        active,
        inactive,
        {
            "preview": LessonFactory(section=section, is_preview=True),
            "members_only": LessonFactory(section=section),
            "unpublished": LessonFactory(section=section, is_published=False),
            "inactive_course": LessonFactory(section__course=inactive, is_preview=True),
        },
    )


def _caller(api_client, caller, courses):
    if caller == "anonymous":
        return api_client
    api_client.force_authenticate(user=ClerkUser(clerk_user_id=STUDENT))
    for course in courses:
        _enroll(course, caller)
    return api_client


def _expected_detail(caller, lesson):
    if lesson in ("unpublished", "inactive_course"):
        return 404
    if lesson == "preview" or caller == "paid":
        return 200
    return 401 if caller == "anonymous" else 403


@pytest.mark.parametrize("lesson", LESSONS)
@pytest.mark.parametrize("caller", CALLERS)
def test_lesson_detail_access_matrix(api_client, caller, lesson):
    active, inactive, lessons = _matrix_lessons()
    client = _caller(api_client, caller, [active, inactive])

    response = client.get(f"/api/lessons/{lessons[lesson].pk}/")

    expected = _expected_detail(caller, lesson)
    assert response.status_code == expected
    if expected == 200:
        assert set(response.json()) == LESSON_FIELDS
    elif expected == 403:
        assert response.json() == {
            "detail": "Cette leçon est réservée aux étudiants qui ont acheté le cours.",
            "code": "enrollment_required",
        }
    else:
        assert set(response.json()) == {"detail"}
    if expected == 401:
        assert response["WWW-Authenticate"] == "Bearer"


def _expected_complete(caller, lesson):
    if caller == "anonymous":
        return 401
    if lesson in ("unpublished", "inactive_course"):
        return 404
    return 200 if caller == "paid" else 403


@pytest.mark.parametrize("lesson", LESSONS)
@pytest.mark.parametrize("caller", CALLERS)
def test_lesson_complete_access_matrix(api_client, caller, lesson):
    active, inactive, lessons = _matrix_lessons()
    client = _caller(api_client, caller, [active, inactive])

    completed = client.post(f"/api/lessons/{lessons[lesson].pk}/complete/")
    uncompleted = client.delete(f"/api/lessons/{lessons[lesson].pk}/complete/")

    expected = _expected_complete(caller, lesson)
    assert completed.status_code == expected
    assert uncompleted.status_code == (204 if expected == 200 else expected)
    if expected == 403:
        assert completed.json()["code"] == "enrollment_required"
        assert uncompleted.json()["code"] == "enrollment_required"
    if expected != 200:
        assert not LessonProgress.objects.exists()


def test_lesson_detail_in_english_says_so_in_english(student_client, course):
    response = student_client.get(
        f"/api/lessons/{_lesson(course, 'Installing').pk}/", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "This lesson is only open to students who bought the course.",
        "code": "enrollment_required",
    }


def test_a_refunded_student_loses_access_at_once(api_client, fake_stripe):
    enrollment = _paid_through_stripe(fake_stripe)
    lesson = LessonFactory(section__course=enrollment.course)
    api_client.force_authenticate(
        user=ClerkUser(clerk_user_id=enrollment.clerk_user_id)
    )
    before = api_client.get(f"/api/lessons/{lesson.pk}/")

    payments.enrollment_refund(enrollment_id=enrollment.pk)
    after = api_client.get(f"/api/lessons/{lesson.pk}/")
    complete = api_client.post(f"/api/lessons/{lesson.pk}/complete/")
    outline = api_client.get(f"/api/courses/{enrollment.course_id}/outline/")

    assert before.status_code == 200
    assert after.status_code == 403
    assert after.json()["code"] == "enrollment_required"
    assert complete.status_code == 403
    assert outline.status_code == 200


def test_lesson_detail_has_content_neighbours_and_completion(student_client, course):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    installing = _lesson(course, "Installing")
    LessonProgressFactory(enrollment=enrollment, lesson=installing)
    installing.body = "# Install\n\nRun `pip install`."
    installing.save()

    response = student_client.get(f"/api/lessons/{installing.pk}/")

    body = response.json()
    assert body["course"] == course.pk
    assert body["section"] == installing.section_id
    assert body["slug"] == "installing"
    assert body["kind"] == "text"
    assert body["body"] == "# Install\n\nRun `pip install`."
    assert body["body_html"] == (
        "<h1>Install</h1>\n<p>Run <code>pip install</code>.</p>\n"
    )
    assert body["video_url"] == ""
    assert body["is_completed"] is True
    # The draft after it in its section is skipped.
    assert body["previous_lesson_id"] == _lesson(course, "Welcome").pk
    assert body["next_lesson_id"] == _lesson(course, "Variables").pk


def test_lesson_neighbours_are_null_at_the_ends_of_the_course(student_client, course):
    _enroll(course, Enrollment.Status.PAID)

    first = student_client.get(f"/api/lessons/{_lesson(course, 'Welcome').pk}/")
    last = student_client.get(f"/api/lessons/{_lesson(course, 'Functions').pk}/")

    assert first.json()["previous_lesson_id"] is None
    assert first.json()["next_lesson_id"] == _lesson(course, "Installing").pk
    assert first.json()["video_url"] == "https://videos.example.com/welcome.mp4"
    assert last.json()["previous_lesson_id"] == _lesson(course, "Variables").pk
    assert last.json()["next_lesson_id"] is None


def test_a_preview_is_open_to_anyone_but_never_marked_completed_anonymously(
    api_client, course
):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    welcome = _lesson(course, "Welcome")
    LessonProgressFactory(enrollment=enrollment, lesson=welcome)

    response = api_client.get(f"/api/lessons/{welcome.pk}/")

    assert response.status_code == 200
    assert response.json()["is_completed"] is False


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert('xss')</script>Hello",
        '<img src="x.png" onerror="alert(1)">',
        '[click](javascript:alert(1)) <a href="javascript:alert(2)">here</a>',
        '<a href="JaVaScRiPt:alert(3)" onclick="alert(4)">mixed case</a>',
        "<iframe src='https://evil.example'></iframe><svg onload=alert(5)>",
        '<div style="background:url(javascript:alert(6))">styled</div>',
    ],
)
def test_lesson_body_html_is_sanitised(api_client, body):
    lesson = LessonFactory(is_preview=True, body=body)

    response = api_client.get(f"/api/lessons/{lesson.pk}/")

    html = response.json()["body_html"].lower()
    assert response.json()["body"] == body
    assert "<script" not in html
    assert "alert('xss')" not in html
    assert "onerror" not in html
    assert "onclick" not in html
    assert "onload" not in html
    assert 'href="javascript' not in html
    assert "<iframe" not in html
    assert "style=" not in html


def test_lesson_body_html_keeps_ordinary_markdown(api_client):
    lesson = LessonFactory(
        is_preview=True,
        body=(
            "Read [the docs](https://docs.python.org).\n\n"
            "```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
        ),
    )

    response = api_client.get(f"/api/lessons/{lesson.pk}/")

    html = response.json()["body_html"]
    assert (
        '<a href="https://docs.python.org" rel="noopener noreferrer nofollow">'
        "the docs</a>"
    ) in html
    assert '<code class="language-python">' in html
    assert "<table>" in html


@pytest.mark.parametrize(
    "path",
    [
        "/api/lessons/abc/",
        "/api/lessons/999999/",
        "/api/lessons/99999999999999999999999/",
        "/api/lessons/-1/",
        "/api/lessons/abc/complete/",
    ],
)
def test_lesson_paths_with_bad_or_unknown_ids_are_json_404s(student_client, path):
    response = student_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_lesson_complete_of_an_unknown_id_is_a_404_when_signed_in(student_client):
    response = student_client.post("/api/lessons/99999999999999999999999/complete/")

    assert response.status_code == 404


# --- POST/DELETE /api/lessons/{id}/complete/ ---------------------------------------


def test_complete_answers_the_lesson_and_the_progress(student_client, course):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    installing = _lesson(course, "Installing")

    response = student_client.post(f"/api/lessons/{installing.pk}/complete/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"lesson", "completed_at", "progress"}
    assert body["lesson"] == installing.pk
    progress = LessonProgress.objects.get(enrollment=enrollment)
    assert body["completed_at"].startswith(progress.completed_at.date().isoformat())
    assert body["progress"] == {
        "completed_lessons": 1,
        "total_lessons": 4,
        "percent": 25,
        "next_lesson_id": _lesson(course, "Welcome").pk,
        "completed_at": None,
    }


def test_completing_twice_leaves_one_row_and_answers_the_same(student_client, course):
    _enroll(course, Enrollment.Status.PAID)
    welcome = _lesson(course, "Welcome")

    first = student_client.post(f"/api/lessons/{welcome.pk}/complete/")
    second = student_client.post(f"/api/lessons/{welcome.pk}/complete/")

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert LessonProgress.objects.count() == 1


def test_complete_accepts_an_empty_json_object(student_client, course):
    _enroll(course, Enrollment.Status.PAID)
    welcome = _lesson(course, "Welcome")

    response = student_client.post(
        f"/api/lessons/{welcome.pk}/complete/", {}, format="json"
    )

    assert response.status_code == 200


@pytest.mark.parametrize("payload", ['{"done": true}', "[1]", "null", '"yes"', "0"])
def test_complete_refuses_a_body_with_a_400(student_client, course, payload):
    _enroll(course, Enrollment.Status.PAID)
    welcome = _lesson(course, "Welcome")

    response = student_client.post(
        f"/api/lessons/{welcome.pk}/complete/",
        payload,
        content_type="application/json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]
    assert not LessonProgress.objects.exists()


def test_complete_refuses_malformed_json_with_a_400(student_client, course):
    _enroll(course, Enrollment.Status.PAID)

    response = student_client.post(
        f"/api/lessons/{_lesson(course, 'Welcome').pk}/complete/",
        "{not json",
        content_type="application/json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("method", ["get", "put", "patch"])
def test_complete_refuses_other_methods_with_a_405(student_client, course, method):
    _enroll(course, Enrollment.Status.PAID)

    response = getattr(student_client, method)(
        f"/api/lessons/{_lesson(course, 'Welcome').pk}/complete/"
    )

    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_lesson_detail_refuses_other_methods_with_a_405(student_client, course, method):
    _enroll(course, Enrollment.Status.PAID)

    response = getattr(student_client, method)(
        f"/api/lessons/{_lesson(course, 'Welcome').pk}/"
    )

    assert response.status_code == 405


def test_delete_marks_incomplete_and_is_idempotent(student_client, course):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    welcome = _lesson(course, "Welcome")
    LessonProgressFactory(enrollment=enrollment, lesson=welcome)

    first = student_client.delete(f"/api/lessons/{welcome.pk}/complete/")
    second = student_client.delete(f"/api/lessons/{welcome.pk}/complete/")

    assert first.status_code == second.status_code == 204
    assert first.content == b""
    assert not LessonProgress.objects.exists()


def test_completing_every_lesson_sets_completed_at_and_100_percent(
    student_client, course
):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    titles = ["Functions", "Welcome", "Variables", "Installing"]

    answers = [
        student_client.post(f"/api/lessons/{_lesson(course, t).pk}/complete/").json()
        for t in titles
    ]

    assert [a["progress"]["percent"] for a in answers] == [25, 50, 75, 100]
    assert [a["progress"]["completed_at"] for a in answers[:3]] == [None] * 3
    assert answers[3]["progress"]["next_lesson_id"] is None
    enrollment.refresh_from_db()
    assert enrollment.completed_at is not None
    assert answers[3]["progress"]["completed_at"] is not None


# --- progress in my-courses and enrollments ----------------------------------------


def test_my_courses_and_enrollments_carry_the_progress(student_client, course):
    enrollment = _enroll(course, Enrollment.Status.PAID)
    for title in ("Welcome", "Installing", "Functions"):
        LessonProgressFactory(enrollment=enrollment, lesson=_lesson(course, title))

    mine = student_client.get("/api/my-courses/").json()
    listed = student_client.get("/api/enrollments/").json()["results"]
    one = student_client.get(f"/api/enrollments/{enrollment.pk}/").json()

    expected = {
        "completed_lessons": 3,
        "total_lessons": 4,
        "percent": 75,
        "next_lesson_id": _lesson(course, "Variables").pk,
        "completed_at": None,
    }
    assert mine[0]["progress"] == listed[0]["progress"] == one["progress"] == expected
    assert mine[0]["course"]["lesson_count"] == 4
    assert mine[0]["course"]["duration_seconds"] == 720


def test_progress_of_a_course_without_lessons_is_zero(student_client):
    _enroll(CourseFactory(), Enrollment.Status.PAID)

    response = student_client.get("/api/my-courses/")

    assert response.json()[0]["progress"] == {
        "completed_lessons": 0,
        "total_lessons": 0,
        "percent": 0,
        "next_lesson_id": None,
        "completed_at": None,
    }
    assert set(response.json()[0]["progress"]) == PROGRESS_FIELDS
