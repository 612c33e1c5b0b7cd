"""One structured log line per request, and no secrets in any log line."""

import json
import logging

import pytest

from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [
        record.http for record in caplog.records if record.name == "courses.request"
    ]


def test_each_request_logs_one_line_with_method_path_status_and_duration(
    api_client, caplog
):
    caplog.set_level(logging.INFO, logger="courses.request")

    api_client.get("/api/health/")

    [line] = _request_lines(caplog)
    assert line["method"] == "GET"
    assert line["path"] == "/api/health/"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["user_id"] is None


def test_request_log_message_is_one_json_object(api_client, caplog):
    caplog.set_level(logging.INFO, logger="courses.request")

    api_client.get("/api/no-such-page/")

    [record] = [r for r in caplog.records if r.name == "courses.request"]
    prefix, _, payload = record.getMessage().partition(" ")
    assert prefix == "request"
    assert json.loads(payload)["status"] == 404


def test_request_log_leaves_out_query_strings_and_headers(api_client, caplog):
    caplog.set_level(logging.DEBUG)

    api_client.get(
        "/api/health/?session_id=cs_test_secret_session&token=query-token-value",
        HTTP_AUTHORIZATION="Bearer header-token-value",
        HTTP_COOKIE="__session=cookie-token-value",
    )

    assert _request_lines(caplog)[0]["path"] == "/api/health/"
    for secret in (
        "cs_test_secret_session",
        "query-token-value",
        "header-token-value",
        "cookie-token-value",
    ):
        assert secret not in caplog.text


def test_request_log_cannot_be_forged_with_a_newline_in_the_path(api_client, caplog):
    caplog.set_level(logging.INFO, logger="courses.request")

    api_client.get('/api/x%0A{"status":200}/')

    [record] = [r for r in caplog.records if r.name == "courses.request"]
    assert "\n" not in record.getMessage()
    assert record.http["status"] == 404


def test_refused_requests_are_logged_too(api_client, caplog, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    caplog.set_level(logging.INFO, logger="courses.request")

    api_client.post("/api/health/", {"padding": "x" * 100}, format="json")

    assert _request_lines(caplog)[0]["status"] == 413


def test_request_log_names_the_clerk_user_and_never_the_token(
    fake_clerk, api_client, caplog
):
    fake_clerk.add_user("user_logged", email="logged@example.com")
    token = fake_clerk.issue_token("user_logged")
    caplog.set_level(logging.DEBUG)

    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert _request_lines(caplog)[0]["user_id"] == "user_logged"
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text
    assert fake_clerk.secret_key not in caplog.text


def test_refused_token_is_logged_without_it_or_a_user(fake_clerk, api_client, caplog):
    token = fake_clerk.tamper(fake_clerk.issue_token("user_a"), sub="user_b")
    caplog.set_level(logging.DEBUG)

    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert _request_lines(caplog)[0]["user_id"] is None
    assert token not in caplog.text


def test_webhooks_leave_no_secret_signature_or_payload_in_the_logs(
    fake_stripe, api_client, caplog
):
    course = CourseFactory()
    session = fake_stripe.checkout_session_add(
        amount=4999,
        metadata={"course_id": str(course.pk), "clerk_user_id": "user_paying"},
        customer_email="private.buyer@example.com",
    )
    session = fake_stripe.session_pay(
        session["id"],
        customer_email="private.buyer@example.com",
        customer_name="Private Buyer",
    )
    good = fake_stripe.webhook_delivery("checkout.session.completed", session)
    forged = fake_stripe.webhook_delivery(
        "checkout.session.completed", session, secret="whsec_forged_secret"
    )
    caplog.set_level(logging.DEBUG)

    accepted = api_client.post("/api/webhooks/stripe/", good.payload, **good.headers)
    refused = api_client.post("/api/webhooks/stripe/", forged.payload, **forged.headers)

    assert (accepted.status_code, refused.status_code) == (200, 400)
    assert [line["status"] for line in _request_lines(caplog)] == [200, 400]
    for secret in (
        fake_stripe.webhook_secret,
        "whsec_forged_secret",
        good.signature.split("v1=")[1],
        forged.signature.split("v1=")[1],
        good.payload.decode(),
        "private.buyer@example.com",
        "Private Buyer",
    ):
        assert secret not in caplog.text


def test_clerk_webhooks_leave_no_secret_signature_or_person_in_the_logs(
    fake_clerk, api_client, caplog
):
    fake_clerk.add_user(
        "user_private", email="private.person@example.com", first_name="Private"
    )
    good = fake_clerk.user_event("user.created", "user_private")
    forged = fake_clerk.user_event(
        "user.updated", "user_private", secret="whsec_Zm9yZ2VkLXNlY3JldC1vZi0yNA=="
    )
    caplog.set_level(logging.DEBUG)

    answers = [
        api_client.post(
            "/api/webhooks/clerk/",
            delivery.payload,
            content_type="application/json",
            headers={k: v for k, v in delivery.headers.items() if k != "Content-Type"},
        ).status_code
        for delivery in (good, forged)
    ]

    assert answers == [200, 400]
    for secret in (
        fake_clerk.webhook_secret,
        "Zm9yZ2VkLXNlY3JldC1vZi0yNA",
        good.headers["svix-signature"].split(",")[1],
        forged.headers["svix-signature"].split(",")[1],
        good.payload.decode(),
        "private.person@example.com",
        "Private",
    ):
        assert secret not in caplog.text


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize(("path", "status"), [("/api/health/", 200), ("/api/x/", 404)])
def test_a_request_is_logged_once_even_under_runserver(api_client, path, status):
    """The console handlers hang on the root and "django" loggers; whatever
    reaches them is printed. runserver writes its own access line through
    django.server, and Django warns about each 4xx through django.request."""
    lines = _Lines()
    for name in ("", "django"):
        logging.getLogger(name).addHandler(lines)
    try:
        api_client.get(path)
        # What runserver's request handler logs after the answer.
        logging.getLogger("django.server").info('"GET %s HTTP/1.1" %s 58', path, status)
    finally:
        for name in ("", "django"):
            logging.getLogger(name).removeHandler(lines)

    mentioning = [r for r in lines.records if path in r.getMessage()]
    assert [r.name for r in mentioning] == ["courses.request"]


def test_request_log_names_the_client_ip_and_ignores_a_spoofed_header(
    api_client, caplog, settings
):
    caplog.set_level(logging.INFO, logger="courses.request")
    settings.TRUSTED_PROXY_COUNT = 0

    api_client.get("/api/health/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    settings.TRUSTED_PROXY_COUNT = 1
    api_client.get("/api/health/", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9")

    direct, proxied = _request_lines(caplog)
    assert direct["client_ip"] == "127.0.0.1"
    assert proxied["client_ip"] == "203.0.113.9"


# --- Staff sign-in ------------------------------------------------------------------


@pytest.fixture
def every_log_record():
    """Every record logged with LOG_LEVEL=DEBUG (the root and django's loggers
    at DEBUG, the others as configured), including those of loggers that do
    not propagate to the root (django's)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    verbose = [root, logging.getLogger("django")]
    saved = [(logger, logger.level) for logger in verbose]
    for logger in verbose:
        logger.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger, level in saved:
        logger.setLevel(level)
    for logger in loggers:
        logger.removeHandler(handler)


def test_no_password_or_authenticator_secret_in_any_log_line(
    client, settings, every_log_record
):
    from base64 import b32encode

    from axes.models import AccessAttempt
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from courses.models import StaffSignInEvent
    from courses.tests.staff import plain_static, totp_code

    plain_static(settings)
    password = "Right-Password-8d1f0c"
    guesses = [f"Wrong-Guess-{n}-5e9a7b" for n in range(5)]
    User.objects.create_user("alice", password=password, is_staff=True)
    login = "/admin/login/"

    def sign_in(secret: str):
        return client.post(
            login,
            {"username": "alice", "password": secret, "next": "/admin/"},
            REMOTE_ADDR="203.0.113.7",
        )

    statuses = [sign_in(guess).status_code for guess in guesses]
    refused = sign_in(password)
    call_command("unlock_staff", "--username", "alice")
    sign_in(password)
    client.get("/admin/two-factor/setup/")
    device = TOTPDevice.objects.get()
    client.post("/admin/two-factor/setup/", {"code": "12345x"})
    client.post("/admin/two-factor/setup/", {"code": totp_code(device.bin_key)})
    call_command("reset_staff_2fa", "--username", "alice")

    assert statuses[-1] == refused.status_code == 429
    lines = []
    for record in every_log_record:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    text = "\n".join(lines)
    secrets = [password, *guesses, device.key, b32encode(device.bin_key).decode()]
    for secret in secrets:
        assert secret not in text
        assert secret.lower() not in text.lower()
    stored = repr(list(StaffSignInEvent.objects.values()))
    stored += repr(list(AccessAttempt.objects.values()))
    assert not [secret for secret in secrets if secret in stored]
    # The lockout and each refusal are logged with the username and the IP.
    lockouts = [line for line in lines if "Locking out" in line]
    assert lockouts
    assert '"username":"alice"' in lockouts[0]
    assert '"ip_address":"203.0.113.7"' in lockouts[0]
    assert any(
        line.startswith("staff_signin ")
        and json.loads(line.partition(" ")[2])
        == {
            "event": "refused",
            "username": "alice",
            "ip_address": "203.0.113.7",
            "by": None,
            "detail": None,
        }
        for line in lines
    )
