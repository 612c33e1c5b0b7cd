"""Lockout of password guessing on the admin's sign-in (django-axes, counted in
the database per username and client IP), unlocking, and the sign-in record."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from courses.models import StaffSignInEvent
from courses.tests.staff import plain_static, sign_in_staff

pytestmark = pytest.mark.django_db

Kind = StaffSignInEvent.Kind
PASSWORD = "correct-horse-battery-staple-42"
WRONG = "not-the-password-1"
IP = "203.0.113.7"
OTHER_IP = "198.51.100.9"


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast, for tests) that counts the passwords it checks: ModelBackend
    checks one for each attempt on an existing account that reaches it."""

    algorithm = "counting_md5"
    uses = 0

    def verify(self, password, encoded):
        CountingHasher.uses += 1
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def _settings(settings):
    plain_static(settings)
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password=PASSWORD, is_staff=True)


def _sign_in(client, username: str, password: str, ip: str = IP, **headers):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
        REMOTE_ADDR=ip,
        HTTP_ACCEPT_LANGUAGE="en",
        **headers,
    )


def _fail(client, times: int, username: str = "alice", ip: str = IP) -> list[int]:
    return [_sign_in(client, username, WRONG, ip).status_code for _ in range(times)]


def _signed_in(response) -> bool:
    return (
        response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session
    )


def test_the_limit_and_cool_off_default_to_5_failures_and_15_minutes(settings):
    assert settings.ADMIN_LOGIN_FAILURE_LIMIT == settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_the_fifth_failure_locks_the_username_from_that_ip(client, alice):
    statuses = _fail(client, 5)

    assert statuses == [200, 200, 200, 200, 429]
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address) == ("alice", IP)
    assert attempt.failures_since_start == 5


def test_the_lockout_page_is_clear_with_429_and_retry_after(client, alice):
    _fail(client, 4)

    response = _sign_in(client, "alice", WRONG)
    xhr = _sign_in(client, "alice", WRONG, HTTP_X_REQUESTED_WITH="XMLHttpRequest")

    assert response.status_code == xhr.status_code == 429
    assert response["Retry-After"] == xhr["Retry-After"] == str(15 * 60)
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many failed sign-ins for this username from your address" in (
        response.content
    )
    assert b"locked for 15 minutes" in response.content
    assert "Access-Control-Allow-Origin" not in xhr


def test_the_right_password_is_refused_while_locked(client, alice):
    _fail(client, 5)

    response = _sign_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in response.wsgi_request.session


def test_a_locked_attempt_never_reaches_the_password_check(client, alice):
    CountingHasher.uses = 0
    _fail(client, 4)
    checks_before_the_lock = CountingHasher.uses
    _fail(client, 1)  # the fifth failure: checked, then locked
    CountingHasher.uses = 0

    right = _sign_in(client, "alice", PASSWORD)
    wrong = _sign_in(client, "alice", WRONG)

    assert checks_before_the_lock == 4
    assert (right.status_code, wrong.status_code) == (429, 429)
    assert CountingHasher.uses == 0


def test_the_cool_off_lets_the_right_password_in_again(client, alice):
    _fail(client, 5)
    # The cool-off runs from the last counted failure: 16 minutes ago.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    response = _sign_in(client, "alice", PASSWORD)

    assert _signed_in(response)
    assert not AccessAttempt.objects.exists()


def test_attempts_refused_while_locked_do_not_extend_the_cool_off(client, alice):
    _fail(client, 5)
    locked_at = AccessAttempt.objects.get().attempt_time

    _fail(client, 3)

    attempt = AccessAttempt.objects.get()
    assert attempt.attempt_time == locked_at
    assert attempt.failures_since_start == 5


def test_the_unlock_command_lets_the_right_password_in_again(client, alice):
    _fail(client, 5)

    call_command("unlock_staff", "--username", "alice")
    response = _sign_in(client, "alice", PASSWORD)

    assert _signed_in(response)
    unlock = StaffSignInEvent.objects.get(kind=Kind.UNLOCKED)
    assert unlock.username == "alice"
    assert unlock.user == alice
    assert unlock.actor is None
    assert unlock.detail == "Unlocked from every address from the command line."


def test_the_unlock_command_with_an_ip_unlocks_that_address_only(client, alice):
    _fail(client, 5, ip=IP)
    _fail(client, 5, ip=OTHER_IP)

    call_command("unlock_staff", "--username", "alice", "--ip", OTHER_IP)

    assert _signed_in(_sign_in(client, "alice", PASSWORD, ip=OTHER_IP))
    assert _sign_in(client, "alice", PASSWORD, ip=IP).status_code == 429


def test_the_unlock_command_says_when_nothing_was_locked(alice, capsys):
    call_command("unlock_staff", "--username", "alice")

    assert "alice was not locked out: nothing to do." in capsys.readouterr().out
    assert not StaffSignInEvent.objects.filter(kind=Kind.UNLOCKED).exists()


def test_another_username_or_another_ip_is_not_affected(client, alice):
    User.objects.create_user("bob", password=PASSWORD, is_staff=True)
    _fail(client, 5, username="alice", ip=IP)

    alice_elsewhere = _sign_in(client, "alice", PASSWORD, ip=OTHER_IP)
    client.logout()
    bob_same_ip = _sign_in(client, "bob", PASSWORD, ip=IP)

    assert _signed_in(alice_elsewhere)
    assert _signed_in(bob_same_ip)


def test_a_success_forgets_the_earlier_failures(client, alice):
    _fail(client, 4)
    assert _signed_in(_sign_in(client, "alice", PASSWORD))
    client.logout()

    statuses = _fail(client, 4)

    assert statuses == [200, 200, 200, 200]
    assert AccessAttempt.objects.get().failures_since_start == 4


def test_without_a_trusted_proxy_forwarded_for_headers_change_nothing(
    client, alice, settings
):
    settings.TRUSTED_PROXY_COUNT = 0

    statuses = [
        _sign_in(
            client, "alice", WRONG, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        ).status_code
        for n in range(5)
    ]

    assert statuses[-1] == 429
    assert AccessAttempt.objects.get().ip_address == IP


def test_behind_a_trusted_proxy_the_lockout_keys_on_the_address_it_saw(
    client, alice, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"

    # The client writes a new address each time; the proxy appends the real one.
    statuses = [
        _sign_in(
            client, "alice", WRONG, ip=proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {IP}"
        ).status_code
        for n in range(5)
    ]
    from_elsewhere = _sign_in(
        client, "alice", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR=OTHER_IP
    )

    assert statuses[-1] == 429
    assert AccessAttempt.objects.get().ip_address == IP
    assert _signed_in(from_elsewhere)


def test_every_attempt_is_recorded_with_who_and_from_where(client, alice):
    _fail(client, 1, username="nobody")
    _fail(client, 5)
    _sign_in(client, "alice", PASSWORD)
    call_command("unlock_staff", "--username", "alice")
    _sign_in(client, "alice", PASSWORD)

    events = list(StaffSignInEvent.objects.order_by("id"))
    kinds = [event.kind for event in events]
    assert kinds.count(Kind.FAILED) == 6
    assert kinds.count(Kind.LOCKED_OUT) == 1
    assert kinds.count(Kind.REFUSED) == 1
    assert kinds.count(Kind.UNLOCKED) == 1
    assert kinds.count(Kind.SIGNED_IN) == 1
    assert kinds[-1] == Kind.SIGNED_IN
    assert {event.ip_address for event in events if event.kind != Kind.UNLOCKED} == {IP}
    nobody = events[0]
    assert (nobody.kind, nobody.username, nobody.user) == (Kind.FAILED, "nobody", None)
    assert all(event.user == alice for event in events[1:])


# --- The admin's pages for superusers ------------------------------------------


def test_superusers_see_the_record_and_the_lockouts(client, alice):
    _fail(client, 5)
    root = User.objects.create_superuser("root", password=PASSWORD)
    sign_in_staff(client, root)

    events = client.get(reverse("admin:courses_staffsigninevent_changelist"))
    lockouts = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert events.status_code == lockouts.status_code == 200
    assert events.content.count(b"alice") >= 6
    assert b"203.0.113.7" in lockouts.content


def test_staff_who_are_not_superusers_see_neither(client, alice):
    staff = User.objects.create_user("staff", password=PASSWORD, is_staff=True)
    staff.user_permissions.set([])
    sign_in_staff(client, staff)

    events = client.get(reverse("admin:courses_staffsigninevent_changelist"))
    lockouts = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert events.status_code == lockouts.status_code == 403


def test_a_superuser_unlocks_in_the_admin_and_it_is_recorded(client, alice):
    _fail(client, 5)
    root = User.objects.create_superuser("root", password=PASSWORD)
    admin_client = client.__class__()
    sign_in_staff(admin_client, root)

    response = admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {
            "action": "unlock",
            "_selected_action": list(
                AccessAttempt.objects.values_list("pk", flat=True)
            ),
        },
        follow=True,
    )

    assert response.status_code == 200
    assert not AccessAttempt.objects.exists()
    unlock = StaffSignInEvent.objects.get(kind=Kind.UNLOCKED)
    assert (unlock.username, unlock.ip_address, unlock.actor) == ("alice", IP, root)
    assert unlock.detail == f"Unlocked from {IP} in the admin."
    assert _signed_in(_sign_in(client, "alice", PASSWORD))


def test_the_record_cannot_be_changed_or_deleted_in_the_admin(client, alice):
    _fail(client, 1)
    event = StaffSignInEvent.objects.get()
    root = User.objects.create_superuser("root", password=PASSWORD)
    sign_in_staff(client, root)

    change = client.post(
        reverse("admin:courses_staffsigninevent_change", args=[event.pk]),
        {"kind": Kind.SIGNED_IN, "username": "mallory"},
    )
    delete = client.post(
        reverse("admin:courses_staffsigninevent_delete", args=[event.pk]),
        {"post": "yes"},
    )

    assert change.status_code == delete.status_code == 403
    event.refresh_from_db()
    assert (event.kind, event.username) == (Kind.FAILED, "alice")
