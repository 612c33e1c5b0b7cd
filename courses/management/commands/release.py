"""The release step of a deploy: check --deploy, migrate, collectstatic, and
retire the cached catalog answers.

Run once per deploy, before the new nodes take traffic (bin/release, the
Procfile's release phase). Migrations go over DATABASE_DIRECT_URL when it is
set (the "direct" alias), never through a transaction pooler.

Safe when two deploys start it at once: the migrations and collectstatic run
while a PostgreSQL advisory lock is held, so the second release waits for the
first and then finds nothing left to do. The lock is transaction-scoped and
held by an open transaction on a connection of its own: it still holds behind
a transaction pooler (the open transaction pins one server connection), and
PostgreSQL drops it by itself if the process dies.
"""

import contextlib
import hashlib
from collections.abc import Iterator

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser, OutputWrapper
from django.db import DEFAULT_DB_ALIAS, connections

from courses import catalog_cache

# A fixed 64-bit key: the same for every release of this project.
RELEASE_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"course-platform:release").digest()[:8], "big", signed=True
)
DIRECT_ALIAS = "direct"


def release_database_alias() -> str:
    """The alias migrations use: the direct URL when there is one."""
    return DIRECT_ALIAS if DIRECT_ALIAS in connections.settings else DEFAULT_DB_ALIAS


@contextlib.contextmanager
def release_lock(alias: str, stdout: OutputWrapper) -> Iterator[None]:
    """Hold the release lock for the duration of the block (PostgreSQL only)."""
    if connections[alias].vendor != "postgresql":
        # SQLite: one file on one machine, whose writes are serialized anyway.
        yield
        return
    lock = connections.create_connection(alias)
    try:
        lock.ensure_connection()
        lock.set_autocommit(False)
        with lock.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELEASE_LOCK_KEY])
            if not cursor.fetchone()[0]:
                stdout.write("Another release is running: waiting for it to finish.")
                stdout.flush()
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RELEASE_LOCK_KEY])
        yield
    finally:
        with contextlib.suppress(Exception):
            lock.rollback()
        lock.close()


class Command(BaseCommand):
    help = (
        "Deploy step: check --deploy, then migrate (over DATABASE_DIRECT_URL when "
        "set) and collectstatic under a database lock. Safe to run twice at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-deploy-check",
            action="store_true",
            help="Skip `check --deploy` (a staging machine without TLS, say)",
        )

    def handle(self, *args: object, **options: object) -> None:
        verbosity = int(options["verbosity"])
        if not options["skip_deploy_check"]:
            # First: a misconfigured release must not change the schema.
            call_command("check", deploy=True, fail_level="WARNING")
        alias = release_database_alias()
        with release_lock(alias, self.stdout):
            self.stdout.write(f"Migrating (database alias {alias!r})")
            call_command(
                "migrate", database=alias, interactive=False, verbosity=verbosity
            )
            call_command("collectstatic", interactive=False, verbosity=verbosity)
        self._retire_catalog_answers()
        self.stdout.write(self.style.SUCCESS("Release done."))

    def _retire_catalog_answers(self) -> None:
        # Migrations write rows without the receivers of catalog_invalidation,
        # and the new code may shape its answers differently: the cached
        # catalog answers are retired. A cache out of reach fails nothing;
        # its answers expire within CATALOG_CACHE_SECONDS anyway.
        try:
            catalog_cache.invalidate()
        except Exception as exc:  # whatever the cache backend raises: reported
            self.stdout.write(
                self.style.WARNING(
                    f"Cached catalog answers not retired ({type(exc).__name__}); "
                    "they expire within CATALOG_CACHE_SECONDS."
                )
            )
            return
        self.stdout.write("Cached catalog answers retired.")
