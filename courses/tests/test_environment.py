"""Tests lacking a requirement: skipped with the reason, failed under REQUIRE_ALL_TESTS.

Run as a separate pytest on one browser test, with CHROMIUM_PATH pointing at
nothing: the machine without Chromium, without uninstalling it.
"""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
BROWSER_TEST = (
    "courses/tests/test_admin_browser.py::test_admin_css_loads_with_debug_off"
)


def _pytest(**env: str) -> subprocess.CompletedProcess[str]:
    # SQLite: the skipped test never opens a database, and the parent run's
    # PostgreSQL test database must not be touched.
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REQUIRE_ALL_TESTS", "CHROMIUM_PATH"}
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", "-rs", BROWSER_TEST],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_chromium_the_browser_tests_are_skipped_and_the_run_is_green():
    result = _pytest(CHROMIUM_PATH="/nonexistent/chromium")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "needs Chromium at /nonexistent/chromium" in result.stdout
    assert "apt-get install chromium" in result.stdout


def test_with_require_all_tests_a_skip_fails_the_run():
    result = _pytest(CHROMIUM_PATH="/nonexistent/chromium", REQUIRE_ALL_TESTS="1")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "REQUIRE_ALL_TESTS=1 allows no skip" in result.stdout
    assert "needs Chromium at /nonexistent/chromium" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]
