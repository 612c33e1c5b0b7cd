"""Print a development session token (DEBUG=True only) for curl and Swagger UI."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from courses import dev_tokens
from courses.authentication import CLERK_USER_ID


class Command(BaseCommand):
    help = (
        "Print a session token that this server accepts while DEBUG=True, signed "
        "by a local key (no Clerk account needed). Use it as "
        "'Authorization: Bearer <token>'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            default=dev_tokens.DEFAULT_USER_ID,
            help=(
                "Clerk user id in the token's sub "
                f"(default {dev_tokens.DEFAULT_USER_ID})"
            ),
        )
        parser.add_argument(
            "--email",
            default=dev_tokens.DEFAULT_EMAIL,
            help=f"Email claim (default {dev_tokens.DEFAULT_EMAIL})",
        )

    def handle(self, *args: object, **options: object) -> None:
        user = str(options["user"]).strip()
        # The same format the authentication accepts in a token's sub.
        if not CLERK_USER_ID.fullmatch(user):
            raise CommandError(
                "--user must be a Clerk user id such as user_dev "
                "(user_ then letters and digits)"
            )
        email = str(options["email"]).strip()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(
                f"--email must be an email address, not {email!r}"
            ) from None
        try:
            created = dev_tokens.dev_token_create(clerk_user_id=user, email=email)
        except dev_tokens.DevTokensDisabled:
            raise CommandError(
                "dev_token works only with DEBUG=True (a development server): "
                "with DEBUG off this server accepts Clerk's tokens only."
            ) from None
        hours = dev_tokens.DEV_TOKEN_LIFETIME_SECONDS // 3600
        # The token alone on stdout, so that TOKEN=$(... dev_token) works.
        self.stderr.write(
            f"Development token for {user} ({email}), valid {hours} h, accepted "
            f"while DEBUG=True; key: {created.key_file}",
            style_func=self.style.NOTICE,
        )
        self.stdout.write(created.token)
