"""Lift a staff sign-in lockout before its cool-off ends; the unlock is recorded."""

import ipaddress

from django.core.management.base import BaseCommand, CommandError, CommandParser

from courses.services.staff_access import staff_lockout_clear


class Command(BaseCommand):
    help = (
        "Unlock a username locked out of the admin after too many failed "
        "sign-ins (from every address, or only --ip), and forget its failures. "
        "Recorded as a staff sign-in event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True, help="Username to unlock")
        parser.add_argument(
            "--ip", default=None, help="Only from this IP address (default: all)"
        )

    def handle(self, *args: object, **options: object) -> None:
        username = str(options["username"]).strip()
        if not username:
            raise CommandError("--username must not be empty")
        ip = options["ip"]
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(str(ip).strip()))
            except ValueError:
                raise CommandError(f"--ip must be an IP address, not {ip!r}") from None
        count = staff_lockout_clear(username=username, ip_address=ip)
        where = f" from {ip}" if ip else ""
        if count:
            self.stdout.write(f"Unlocked {username}{where}.")
        else:
            self.stdout.write(f"{username} was not locked out{where}: nothing to do.")
