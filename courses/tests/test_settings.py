"""The settings rules that need a fresh interpreter: SECRET_KEY, the database
URLs, the proxy and checkout settings, and check --deploy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "False",
    "SECRET_KEY": "a" * 20
    + "-production-like-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "api.example.com",
    "FRONTEND_URL": "https://app.example.com",
    "CLERK_ISSUER": "https://example.clerk.accounts.dev",
    "TRUSTED_PROXY_COUNT": "1",
    "SECURE_SSL_REDIRECT": "",
}

PRINT_PROXY_SETTINGS = (
    "from django.conf import settings; "
    "print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None), "
    "settings.REST_FRAMEWORK['NUM_PROXIES'])"
)


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in env}
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_startup_without_secret_key_fails_with_one_clear_message():
    result = _run(["manage.py", "check"], DEBUG="False", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_runs_without_secret_key():
    result = _run(["manage.py", "check"], DEBUG="True", SECRET_KEY="")

    assert result.returncode == 0, result.stderr


def test_check_deploy_with_production_like_variables_prints_no_warning():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr


# --- Pooled databases ------------------------------------------------------------

POOLED_URL = "postgres://app@ep-cool-name-pooler.example.com:5432/courses"
DIRECT_URL = "postgres://app@ep-cool-name.example.com:5432/courses"
PRINT_DATABASES = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({alias: {key: db.get(key) for key in "
    "('HOST', 'DISABLE_SERVER_SIDE_CURSORS', 'CONN_MAX_AGE')} "
    "for alias, db in settings.DATABASES.items()}))"
)


def _databases(**env: str) -> dict:
    result = _run(
        ["-c", PRINT_DATABASES], DJANGO_SETTINGS_MODULE="config.settings", **env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_direct_url_marks_database_url_as_pooled():
    databases = _databases(
        DATABASE_URL=POOLED_URL,
        DATABASE_DIRECT_URL=DIRECT_URL,
        DB_DISABLE_SERVER_SIDE_CURSORS="",
        DB_CONN_MAX_AGE="",
    )

    assert databases == {
        "default": {
            "HOST": "ep-cool-name-pooler.example.com",
            "DISABLE_SERVER_SIDE_CURSORS": True,
            "CONN_MAX_AGE": 600,
        },
        "direct": {
            "HOST": "ep-cool-name.example.com",
            "DISABLE_SERVER_SIDE_CURSORS": False,
            "CONN_MAX_AGE": 0,
        },
    }


def test_without_a_direct_url_server_side_cursors_stay_on():
    databases = _databases(
        DATABASE_URL=DIRECT_URL,
        DATABASE_DIRECT_URL="",
        DB_DISABLE_SERVER_SIDE_CURSORS="",
    )

    assert set(databases) == {"default"}
    assert databases["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False


@pytest.mark.parametrize(
    ("direct_url", "setting", "expected"),
    [("", "True", True), (DIRECT_URL, "False", False)],
)
def test_db_disable_server_side_cursors_decides_when_set(direct_url, setting, expected):
    databases = _databases(
        DATABASE_URL=POOLED_URL,
        DATABASE_DIRECT_URL=direct_url,
        DB_DISABLE_SERVER_SIDE_CURSORS=setting,
    )

    assert databases["default"]["DISABLE_SERVER_SIDE_CURSORS"] is expected


def test_a_direct_url_without_database_url_fails_with_one_clear_message():
    result = _run(
        ["manage.py", "check"], DATABASE_URL="", DATABASE_DIRECT_URL=DIRECT_URL
    )

    assert result.returncode != 0
    assert "DATABASE_DIRECT_URL is set without DATABASE_URL" in result.stderr


def test_check_deploy_warns_about_a_pooler_url_with_server_side_cursors():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION_ENV,
        DATABASE_URL=POOLED_URL,
        DATABASE_DIRECT_URL="",
        DB_DISABLE_SERVER_SIDE_CURSORS="",
    )

    assert result.returncode != 0
    assert "courses.W001" in result.stderr


def test_check_deploy_accepts_a_pooler_url_with_its_direct_url():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION_ENV,
        DATABASE_URL=POOLED_URL,
        DATABASE_DIRECT_URL=DIRECT_URL,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_without_clerk_issuer_is_an_error():
    result = _run(
        ["manage.py", "check", "--deploy"], **{**PRODUCTION_ENV, "CLERK_ISSUER": ""}
    )

    assert result.returncode != 0
    assert "courses.E001" in result.stderr
    assert "CLERK_ISSUER is not set" in result.stderr


def test_without_trusted_proxies_forwarded_headers_are_not_trusted():
    env = {**PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": ""}

    result = _run(["manage.py", "shell", "-c", PRINT_PROXY_SETTINGS], **env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["None", "0"]


def test_trusted_proxy_count_sets_drf_and_the_proxy_ssl_header():
    env = {**PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": "2"}

    result = _run(["manage.py", "shell", "-c", PRINT_PROXY_SETTINGS], **env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https') 2"


def test_proxy_ssl_header_without_a_trusted_proxy_stops_the_start():
    env = {
        **PRODUCTION_ENV,
        "TRUSTED_PROXY_COUNT": "0",
        "SECURE_PROXY_SSL_HEADER": "True",
    }

    result = _run(["manage.py", "check"], **env)

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER needs TRUSTED_PROXY_COUNT above 0" in (
        result.stderr
    )


@pytest.mark.parametrize("minutes", ["29", "1441", "an hour"])
def test_checkout_expiry_outside_stripes_range_stops_the_start(minutes):
    env = {**PRODUCTION_ENV, "STRIPE_CHECKOUT_EXPIRES_MINUTES": minutes}

    result = _run(["manage.py", "check"], **env)

    assert result.returncode != 0
    assert "STRIPE_CHECKOUT_EXPIRES_MINUTES must be a whole number from 30 to 1440" in (
        result.stderr
    )


PRINT_STAFF_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.ADMIN_URL, settings.ADMIN_REQUIRE_2FA, "
    "settings.AXES_FAILURE_LIMIT, int(settings.AXES_COOLOFF_TIME.total_seconds()))"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "admin/ True 5 900"),
        ({"DEBUG": "True"}, "admin/ False 5 900"),
        ({"DEBUG": "True", "ADMIN_REQUIRE_2FA": "true"}, "admin/ True 5 900"),
        (
            {
                "ADMIN_URL": "/staff/desk-7f3/",
                "ADMIN_LOGIN_FAILURE_LIMIT": "3",
                "ADMIN_LOGIN_COOLOFF_MINUTES": "60",
            },
            "staff/desk-7f3/ True 3 3600",
        ),
    ],
    ids=["production", "debug", "debug-with-2fa", "custom"],
)
def test_staff_sign_in_settings_and_their_defaults(env, expected):
    result = _run(
        ["manage.py", "shell", "-c", PRINT_STAFF_SETTINGS], **{**PRODUCTION_ENV, **env}
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ADMIN_URL", "api/", "would hide the API"),
        ("ADMIN_URL", "../admin/", "ADMIN_URL must be a path"),
        ("ADMIN_URL", "back office/", "ADMIN_URL must be a path"),
        ("ADMIN_LOGIN_FAILURE_LIMIT", "0", "from 1 to 100"),
        ("ADMIN_LOGIN_COOLOFF_MINUTES", "a while", "from 1 to 10080"),
    ],
)
def test_a_bad_staff_sign_in_setting_stops_the_start(name, value, message):
    result = _run(["manage.py", "check"], **{**PRODUCTION_ENV, name: value})

    assert result.returncode != 0
    assert message in result.stderr
