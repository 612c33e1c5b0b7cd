"""System checks that `manage.py check --deploy` runs on production settings."""

from typing import Any

from django.conf import settings
from django.core import checks


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
