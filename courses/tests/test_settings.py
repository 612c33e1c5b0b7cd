"""The settings rules that need a fresh interpreter: SECRET_KEY and check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "False",
    "SECRET_KEY": "a" * 20
    + "-production-like-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "api.example.com",
    "FRONTEND_URL": "https://app.example.com",
    "SECURE_SSL_REDIRECT": "",
}


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
