"""Development session tokens: accepted with DEBUG=True only, shaped like Clerk's."""

import io
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from django.core.management import CommandError, call_command

from courses import dev_tokens
from courses.tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def debug_on(settings, tmp_path):
    """DEBUG=True, with the development key pair in a temporary directory."""
    settings.DEBUG = True
    settings.DEV_TOKEN_KEY_FILE = tmp_path / "dev-keys" / "dev_token_key.pem"
    return settings


def _dev_token(**options: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("dev_token", stdout=out, stderr=err, **options)
    return out.getvalue().strip()


def _me(api_client, token: str):
    return api_client.get(
        "/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT_LANGUAGE="en"
    )


def test_dev_token_is_accepted_with_debug_on_without_any_clerk_setting(
    debug_on, api_client
):
    token = _dev_token(user="user_ada", email="ada@example.com")

    response = _me(api_client, token)

    assert response.status_code == 200
    assert response.json()["clerk_user_id"] == "user_ada"
    assert response.json()["email"] == "ada@example.com"
    assert debug_on.DEV_TOKEN_KEY_FILE.stat().st_mode & 0o777 == 0o600


def test_dev_token_reaches_the_signed_in_endpoints(debug_on, api_client):
    enrollment = EnrollmentFactory(
        clerk_user_id="user_dev", course=CourseFactory(), paid=True
    )
    token = _dev_token()

    response = api_client.get("/api/my-courses/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [enrollment.pk]


def test_dev_token_looks_like_a_clerk_session_token(debug_on):
    debug_on.CLERK_ISSUER = "https://example.clerk.accounts.dev"
    debug_on.FRONTEND_URL = "http://localhost:5173/app"

    token = _dev_token()

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "RS256", "typ": "JWT", "kid": dev_tokens.DEV_KEY_ID}
    assert claims["sub"] == "user_dev"
    assert claims["sid"].startswith("sess_")
    assert claims["iat"] == claims["nbf"] <= claims["exp"] - 3600
    assert claims["azp"] == "http://localhost:5173"
    assert claims["iss"] == "https://example.clerk.accounts.dev"
    assert "aud" not in claims


def test_dev_token_is_refused_once_debug_is_off(debug_on, api_client, fake_clerk):
    token = _dev_token()
    assert _me(api_client, token).status_code == 200

    debug_on.DEBUG = False
    response = _me(api_client, token)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "The session token was signed with an unknown key."
    }


def test_dev_token_with_debug_off_and_no_clerk_is_not_accepted(debug_on, api_client):
    token = _dev_token()

    debug_on.DEBUG = False
    response = _me(api_client, token)

    assert response.status_code == 503


def test_the_dev_key_is_not_loaded_with_debug_off(debug_on):
    _dev_token()
    assert dev_tokens.dev_public_key() is not None

    debug_on.DEBUG = False

    assert dev_tokens.dev_public_key() is None


def test_dev_token_signed_by_another_key_is_refused(debug_on, api_client):
    token = _dev_token()
    debug_on.DEV_TOKEN_KEY_FILE.unlink()
    _dev_token()  # a new key pair

    response = _me(api_client, token)

    assert response.status_code == 401
    assert response.json()["detail"] == "The session token's signature is invalid."


def test_dev_token_without_a_key_file_is_refused(debug_on, api_client):
    token = _dev_token()
    debug_on.DEV_TOKEN_KEY_FILE.unlink()

    response = _me(api_client, token)

    assert response.status_code == 401


def test_dev_token_command_refuses_to_run_with_debug_off(settings, tmp_path):
    settings.DEBUG = False
    settings.DEV_TOKEN_KEY_FILE = tmp_path / "dev_token_key.pem"

    with pytest.raises(CommandError, match="only with DEBUG=True"):
        _dev_token()

    assert not settings.DEV_TOKEN_KEY_FILE.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"email": "not-an-email"}, "--email"),
        ({"user": "user with spaces"}, "--user"),
        ({"user": ""}, "--user"),
    ],
)
def test_dev_token_command_refuses_bad_arguments(debug_on, options, message):
    with pytest.raises(CommandError, match=message):
        _dev_token(**options)


def test_dev_token_command_exits_non_zero_with_debug_off():
    env = {**os.environ, "DEBUG": "False", "SECRET_KEY": "x" * 50}

    result = subprocess.run(
        [sys.executable, "manage.py", "dev_token"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert "dev_token works only with DEBUG=True" in result.stderr
