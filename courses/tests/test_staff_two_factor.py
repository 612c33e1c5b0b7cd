"""Two-factor sign-in for staff (django-otp, TOTP): setting up an authenticator,
entering its code after the password, the money-moving actions refused before
it, the reset command; and ADMIN_URL moving every admin page."""

import importlib
import re
from base64 import b32decode
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import clear_url_caches, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

import config.urls
from courses.models import Enrollment, StaffSignInEvent
from courses.tests.factories import EnrollmentFactory
from courses.tests.staff import plain_static, sign_in_staff, staff_device, totp_code
from courses.tests.test_admin import _paid_through_stripe

pytestmark = pytest.mark.django_db

Kind = StaffSignInEvent.Kind
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def _settings(settings):
    plain_static(settings)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff() -> User:
    """A staff member who may view, change and refund enrollments."""
    user = User.objects.create_user("clerk", password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_enrollment", "change_enrollment", "refund_enrollment"]
        )
    )
    return user


def _password(client: Client, user: User, next_url: str | None = None):
    """The admin's sign-in form, password step: answers with the redirect."""
    return client.post(
        reverse("admin:login"),
        {
            "username": user.username,
            "password": PASSWORD,
            "next": next_url or reverse("admin:index"),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _code(client: Client, code: str, next_url: str | None = None):
    data = {"code": code}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("staff_second_factor"), data, HTTP_ACCEPT_LANGUAGE="en")


def _location(response) -> str:
    assert response.status_code == 302, response.status_code
    return response["Location"]


def _second_factor_url(next_url: str) -> str:
    return f"{reverse('staff_second_factor')}?next={next_url.replace('/', '%2F')}"


# --- Without a device: the setup page only ---------------------------------------


def test_2fa_is_required_by_default_with_debug_off(settings):
    assert settings.DEBUG is False
    assert settings.ADMIN_REQUIRE_2FA is True


ADMIN_PAGES = [
    ("admin:index", []),
    ("admin:courses_enrollment_changelist", []),
    ("admin:courses_course_add", []),
    ("admin:auth_user_changelist", []),
    ("admin:password_change", []),
    ("admin:app_list", ["courses"]),
    ("admin:courses_staffsigninevent_changelist", []),
]


def test_without_a_device_staff_reach_only_the_setup_page(client, staff):
    signed_in = _password(client, staff)
    pages = {name: client.get(reverse(name, args=args)) for name, args in ADMIN_PAGES}
    followed = client.get(reverse("admin:courses_enrollment_changelist"), follow=True)

    assert _location(signed_in) == reverse("admin:index")
    for name, response in pages.items():
        url = reverse(name, args=dict(ADMIN_PAGES)[name])
        assert _location(response) == _second_factor_url(url), name
    assert followed.redirect_chain[-1][0].startswith(
        reverse("staff_second_factor_setup")
    )
    assert b'id="otpauth-uri"' in followed.content


def _secret_from_setup_page(content: bytes) -> bytes:
    uri = re.search(rb'id="otpauth-uri">([^<]+)<', content)[1].decode()
    query = parse_qs(urlsplit(uri.replace("&amp;", "&")).query)
    return b32decode(query["secret"][0])


def test_setup_shows_the_link_the_key_and_a_qr_code(client, staff):
    _password(client, staff)

    first = client.get(reverse("staff_second_factor_setup"))
    again = client.get(reverse("staff_second_factor_setup"))

    assert first.status_code == 200
    html = first.content.decode()
    assert "otpauth://totp/Course%20Platform%3Aclerk?secret=" in html
    assert "issuer=Course%20Platform" in html
    assert 'src="data:image/svg+xml' in html
    key = _secret_from_setup_page(first.content)
    device = TOTPDevice.objects.get(user=staff)
    assert key == device.bin_key
    assert device.confirmed is False
    assert _secret_from_setup_page(again.content) == key
    assert TOTPDevice.objects.filter(user=staff).count() == 1
    assert "no-cache" in first["Cache-Control"]


def test_a_code_from_the_new_app_confirms_it_and_lets_the_staff_member_in(
    client, staff
):
    _password(client, staff)
    page = client.get(reverse("staff_second_factor_setup"))
    key = _secret_from_setup_page(page.content)
    next_url = reverse("admin:courses_enrollment_changelist")

    wrong = client.post(
        reverse("staff_second_factor_setup"),
        {"code": f"{(int(totp_code(key)) + 1) % 1_000_000:06d}", "next": next_url},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    # django-otp makes the try after a wrong code wait a second: not waited here.
    TOTPDevice.objects.get(user=staff).throttle_reset()
    right = client.post(
        reverse("staff_second_factor_setup"),
        {"code": totp_code(key), "next": next_url},
    )
    changelist = client.get(next_url)

    assert wrong.status_code == 200
    assert b"This code is not valid" in wrong.content
    assert _location(right) == next_url
    assert changelist.status_code == 200
    assert TOTPDevice.objects.get(user=staff).confirmed is True
    kinds = list(
        StaffSignInEvent.objects.filter(username="clerk")
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == [Kind.SIGNED_IN, Kind.CODE_REFUSED, Kind.DEVICE_CONFIRMED]


def test_with_a_device_the_setup_page_adds_none_with_the_password_alone(client, staff):
    staff_device(staff)
    _password(client, staff)

    response = client.get(reverse("staff_second_factor_setup"))

    assert _location(response).startswith(reverse("staff_second_factor"))
    assert TOTPDevice.objects.filter(user=staff).count() == 1


# --- With a device: a code after the password --------------------------------------


def test_with_a_device_a_correct_code_after_the_password_lets_them_in(client, staff):
    device = staff_device(staff)
    next_url = reverse("admin:courses_enrollment_changelist")

    password = _password(client, staff, next_url)
    asked = client.get(next_url)
    page = client.get(_location(asked))
    wrong = _code(client, f"{(int(totp_code(device.bin_key)) + 1) % 1_000_000:06d}")
    # django-otp makes the try after a wrong code wait a second: not waited here.
    device.refresh_from_db()
    device.throttle_reset()
    right = _code(client, totp_code(device.bin_key), next_url)
    changelist = client.get(next_url)

    assert _location(password) == next_url
    assert _location(asked) == _second_factor_url(next_url)
    assert page.status_code == 200
    assert b'id="second-factor-form"' in page.content
    assert wrong.status_code == 200
    assert _location(right) == next_url
    assert changelist.status_code == 200
    kinds = list(StaffSignInEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == [Kind.SIGNED_IN, Kind.CODE_REFUSED, Kind.CODE_ACCEPTED]


def test_a_code_is_accepted_once(staff):
    device = staff_device(staff)
    code = totp_code(device.bin_key)
    first, second = Client(), Client()
    _password(first, staff)
    _password(second, staff)

    accepted = _code(first, code)
    replayed = _code(second, code)

    assert accepted.status_code == 302
    assert replayed.status_code == 200
    assert second.get(reverse("admin:index")).status_code == 302


def test_wrong_codes_make_the_next_try_wait(client, staff):
    device = staff_device(staff)
    _password(client, staff)
    # Ten wrong codes in a row: django-otp makes the next try wait 2**9 s.
    for _ in range(10):
        device.refresh_from_db()
        device.throttle_increment()

    response = _code(client, totp_code(device.bin_key))

    assert response.status_code == 200
    assert b"Too many wrong codes. Wait until" in response.content
    assert client.get(reverse("admin:index")).status_code == 302
    event = StaffSignInEvent.objects.filter(kind=Kind.CODE_REFUSED).get()
    assert event.detail == "Not checked: too many wrong codes, waiting."


def test_an_offsite_next_is_ignored(client, staff):
    device = staff_device(staff)
    _password(client, staff)

    response = _code(client, totp_code(device.bin_key), "https://evil.example/")

    assert _location(response) == reverse("admin:index")


def test_staff_can_sign_out_before_the_second_factor(client, staff):
    staff_device(staff)
    _password(client, staff)

    response = client.post(reverse("admin:logout"))

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert _location(client.get(reverse("staff_second_factor"))).startswith(
        reverse("admin:login")
    )


def test_the_two_factor_pages_send_anonymous_visitors_to_sign_in(client):
    for name in ("staff_second_factor", "staff_second_factor_setup"):
        response = client.get(reverse(name))

        assert _location(response).startswith(reverse("admin:login"))


def test_without_2fa_required_the_password_is_enough(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False

    _password(client, staff)

    assert client.get(reverse("admin:index")).status_code == 200


# --- Money-moving actions -------------------------------------------------------


def _refund(client: Client, enrollment: Enrollment):
    return client.post(
        reverse("admin:courses_enrollment_changelist"),
        {
            "action": "refund_through_stripe",
            "_selected_action": [enrollment.pk],
            "post": "yes",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_the_refund_action_is_refused_until_the_second_factor(
    client, staff, fake_stripe
):
    device = staff_device(staff)
    enrollment = _paid_through_stripe(fake_stripe)
    _password(client, staff)

    refused = _refund(client, enrollment)
    enrollment.refresh_from_db()
    status_before = enrollment.status
    _code(client, totp_code(device.bin_key))
    refunded = _refund(client, enrollment)

    assert _location(refused).startswith(reverse("staff_second_factor"))
    assert status_before == Enrollment.Status.PAID
    assert refunded.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.REFUNDED
    assert len(fake_stripe.requests_to("/v1/refunds", "POST")) == 1


def test_the_actions_check_the_second_factor_themselves(
    client, staff, fake_stripe, settings
):
    """Were the admin's gate missing, the actions that move money still refuse
    a session that has not passed the second factor."""
    settings.MIDDLEWARE = [
        name
        for name in settings.MIDDLEWARE
        if name != "courses.middleware.AdminSecondFactorMiddleware"
    ]
    staff_device(staff)
    paid = _paid_through_stripe(fake_stripe)
    pending = EnrollmentFactory()
    _password(client, staff)

    refund = client.post(
        reverse("admin:courses_enrollment_changelist"),
        {"action": "refund_through_stripe", "_selected_action": [paid.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    mark_paid = client.post(
        reverse("admin:courses_enrollment_changelist"),
        {"action": "mark_as_paid", "_selected_action": [pending.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    for response in (refund, mark_paid):
        messages = [str(m) for m in response.context["messages"]]
        assert any(
            m.startswith("Refused: this action needs a session") for m in messages
        )
    paid.refresh_from_db()
    pending.refresh_from_db()
    assert paid.status == Enrollment.Status.PAID
    assert pending.status == Enrollment.Status.PENDING
    assert fake_stripe.requests_to("/v1/refunds", "POST") == []
    assert not LogEntry.objects.exists()


# --- Recovery -----------------------------------------------------------------------


def test_reset_staff_2fa_removes_the_device_and_asks_for_a_new_one(client, staff):
    sign_in_staff(client, staff)
    assert client.get(reverse("admin:index")).status_code == 200

    call_command("reset_staff_2fa", "--username", "clerk")
    response = client.get(reverse("admin:index"), follow=True)

    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert response.redirect_chain[-1][0].startswith(
        reverse("staff_second_factor_setup")
    )
    reset = StaffSignInEvent.objects.get(kind=Kind.DEVICE_RESET)
    assert (reset.username, reset.user, reset.actor) == ("clerk", staff, None)
    assert reset.detail == "1 authenticator(s) removed from the command line."


def test_reset_staff_2fa_names_an_unknown_username():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("reset_staff_2fa", "--username", "ghost")


# --- ADMIN_URL ----------------------------------------------------------------------

MOVED = "back-office-7f3/"


@pytest.fixture
def moved_admin(settings):
    """The admin at another ADMIN_URL: the root URLs are read again."""
    original = settings.ADMIN_URL
    settings.ADMIN_URL = MOVED
    importlib.reload(config.urls)
    clear_url_caches()
    yield f"/{MOVED}"
    settings.ADMIN_URL = original
    importlib.reload(config.urls)
    clear_url_caches()


def test_admin_url_moves_every_admin_page(client, staff, moved_admin):
    device = staff_device(staff)
    changelist = reverse("admin:courses_enrollment_changelist")

    old_login = client.get("/admin/login/")
    login = client.get(f"{moved_admin}login/")
    password = _password(client, staff, changelist)
    asked = client.get(changelist)
    code = _code(client, totp_code(device.bin_key), changelist)
    page = client.get(changelist)
    old_page = client.get("/admin/courses/enrollment/")

    non_api = [p for p in config.urls.urlpatterns if str(p.pattern) != "api/"]
    assert non_api
    assert all(str(p.pattern).startswith(MOVED) for p in non_api)
    assert reverse("admin:index") == moved_admin
    assert changelist.startswith(moved_admin)
    assert reverse("staff_second_factor").startswith(moved_admin)
    assert (old_login.status_code, login.status_code) == (404, 200)
    assert _location(password) == changelist
    assert _location(asked).startswith(f"{moved_admin}two-factor/")
    assert _location(code) == changelist
    assert page.status_code == 200
    assert old_page.status_code == 404
