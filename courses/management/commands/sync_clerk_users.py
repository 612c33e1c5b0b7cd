"""Backfill or repair the students from Clerk's Backend API (safe to rerun)."""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from courses import clerk_gateway
from courses.services.students import students_sync_from_clerk


class Command(BaseCommand):
    help = (
        "Read every user from Clerk's Backend API (GET {CLERK_API_URL}/users, 100 "
        "a page) and create or update the students; older data never overwrites "
        "newer. Students Clerk no longer has are listed, and erased with "
        "--erase-deleted. Safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--erase-deleted",
            action="store_true",
            help=(
                "Erase the students Clerk answers 404 for, as its user.deleted "
                "webhook would have"
            ),
        )
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help="No progress bar (it is shown on a terminal only anyway)",
        )

    def handle(self, *args: object, **options: object) -> None:
        show = sys.stderr.isatty() and not options["no_progress"]
        try:
            total = clerk_gateway.user_count() if show else None
            with tqdm(total=total, disable=not show, unit="user") as bar:
                report = students_sync_from_clerk(
                    erase_deleted=bool(options["erase_deleted"]), on_page=bar.update
                )
        except clerk_gateway.ClerkNotConfigured as exc:
            raise CommandError("CLERK_SECRET_KEY is not set") from exc
        except clerk_gateway.ClerkUnavailable as exc:
            raise CommandError(f"Clerk's Backend API could not be read: {exc}") from exc
        if report.missing and not report.erased:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(report.missing)} student(s) no longer exist in Clerk "
                    f"({', '.join(report.missing[:10])}"
                    f"{', ...' if len(report.missing) > 10 else ''}): rerun with "
                    "--erase-deleted to erase them."
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.applied} Clerk user(s) read; {report.erased} student(s) "
                "erased (deleted in Clerk)."
            )
        )
