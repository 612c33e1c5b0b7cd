"""The shared cache of anonymous catalog answers, and the version that retires them.

An entry is the rendered body of one anonymous catalog answer (one URL, host
and language) with its ETag, stamped with the catalog's version at the time
it was computed. A write to a course, section or lesson replaces the version
(`invalidate`): every entry stamped with an older one is a miss from then on,
without a key being listed or deleted. Entries also expire on their own after
CATALOG_CACHE_SECONDS. Reading an entry and the version is one round trip to
the cache (MGET on Redis).

The version is a random token, not a counter: a counter lost with the cache
(eviction, restart) could start again at a number an old entry still carries.
"""

import hashlib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalog:version"
ENTRY_PREFIX = "catalog:answer:"


@dataclass(frozen=True)
class Entry:
    etag: str
    content_type: str
    body: bytes


def cache_seconds() -> int:
    """How long an entry is kept; 0: the cache is off."""
    return settings.CATALOG_CACHE_SECONDS


def entry_key(*parts: str) -> str:
    """The cache key of an answer identified by `parts` (URL, language)."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return ENTRY_PREFIX + digest


def entry_get(key: str) -> tuple[str, Entry | None]:
    """The current version, and the entry under `key` if it is of that version."""
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY)
    if version is None:
        # First use, or the cache lost it: any entry left is of an unknown
        # version, so none is trusted.
        cache.add(VERSION_KEY, _new_version(), timeout=None)
        return cache.get(VERSION_KEY), None
    stored = found.get(key)
    if stored is None or stored[0] != version:
        return version, None
    return version, Entry(*stored[1:])


def entry_set(key: str, version: str, entry: Entry) -> None:
    """Keep `entry`, stamped with the version read before it was computed.

    Stamped with that earlier version, an answer computed while a write was
    committing is a miss as soon as the write's invalidation lands.
    """
    value = (version, entry.etag, entry.content_type, entry.body)
    cache.set(key, value, timeout=cache_seconds())


def invalidate(*, using: str | None = None) -> None:
    """Retire every cached catalog answer, now and again once the write commits.

    Now: the writer's next read (same transaction, same request) is fresh.
    After the commit: an answer computed meanwhile by another request, from
    the rows as they were before the commit, is retired too. A cache that
    cannot be reached now fails the write (an edit must never be hidden
    behind an answer that cannot be retired); after the commit, the failure
    is only logged, and the entries expire within CATALOG_CACHE_SECONDS.
    """
    _replace_version()
    if transaction.get_connection(using).in_atomic_block:
        # robust: Django logs a failure instead of raising it to the committer.
        transaction.on_commit(_replace_version, using=using, robust=True)


def _new_version() -> str:
    return uuid.uuid4().hex


def _replace_version() -> None:
    cache.set(VERSION_KEY, _new_version(), timeout=None)
