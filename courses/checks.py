"""System checks run by `manage.py check --deploy` (and so by the release step)."""

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.database, deploy=True)
def pooled_database_check(**kwargs: Any) -> list[checks.CheckMessage]:
    """A Neon "-pooler" host (PgBouncer in transaction mode) with server-side
    cursors on: QuerySet.iterator() would fail whenever the pooler hands the
    next FETCH to another server connection."""
    database = settings.DATABASES.get("default", {})
    host = str(database.get("HOST") or "")
    if "-pooler" not in host or database.get("DISABLE_SERVER_SIDE_CURSORS"):
        return []
    return [
        checks.Warning(
            "DATABASE_URL points at a transaction pooler but server-side cursors "
            "are on.",
            hint=(
                "Set DATABASE_DIRECT_URL to the direct (non-pooler) URL of the "
                "same database: migrations then use it and DATABASE_URL counts "
                "as pooled. See the README, 'Deploying'."
            ),
            id="courses.W001",
        )
    ]
