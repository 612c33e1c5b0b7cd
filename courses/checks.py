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


@checks.register(checks.Tags.security, deploy=True)
def clerk_issuer_check(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """courses.E001: with DEBUG off, CLERK_ISSUER must name the Clerk instance."""
    if settings.DEBUG or settings.CLERK_ISSUER:
        return []
    return [
        checks.Error(
            "CLERK_ISSUER is not set.",
            hint=(
                "Set it to your Clerk instance's Frontend API URL "
                "(https://<your-app>.clerk.accounts.dev). Without it, a token "
                "from another Clerk instance is not told apart, so signed-in "
                "requests answer 503 while DEBUG is off."
            ),
            id="courses.E001",
        )
    ]
