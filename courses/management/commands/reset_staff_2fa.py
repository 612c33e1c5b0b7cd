"""Reset a staff member's two-factor sign-in (a lost phone); the reset is recorded."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from courses.services.staff_access import staff_devices_reset


class Command(BaseCommand):
    help = (
        "Remove every authenticator of a staff member: at their next sign-in "
        "they set up a new one, and sessions that passed the old one must pass "
        "the new one. Recorded as a staff sign-in event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True, help="Whose authenticator")

    def handle(self, *args: object, **options: object) -> None:
        username = str(options["username"]).strip()
        try:
            count = staff_devices_reset(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        self.stdout.write(
            f"Removed {count} authenticator(s) of {username}: they set up a new "
            "one at their next sign-in."
        )
