"""Students' records: Clerk's user data applied newest last, deletion that
erases, and the sign-in look-up that creates a student at first sight.

A signed-in request reads its student on every request, from the shared cache
(Redis) when there is one, else from the database, so that a deleted student
is refused at once by every process. Writes drop or replace the cached entry
once they commit.
"""

import logging
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone

from courses import clerk_gateway
from courses.clerk_gateway import ClerkUserData
from courses.models import Enrollment, Student
from courses.services.payments.customers import (
    customer_erase_after_commit,
    customer_sync_after_commit,
)

logger = logging.getLogger(__name__)

# A student's identity in the shared cache; every write drops or replaces it.
IDENTITY_CACHE_SECONDS = 600
# What an erased enrollment's admin history entries are titled instead.
_ERASED_REPR = "{} (personal data erased)"


class StudentDeleted(Exception):
    """The Clerk account was deleted: its tokens no longer sign anyone in."""


@dataclass(frozen=True)
class StudentIdentity:
    """What a request needs to know about its signed-in student."""

    email: str
    first_name: str
    last_name: str
    is_deleted: bool = False


# --- Clerk's data onto the Student -------------------------------------------------


def student_apply_clerk_user(*, user: ClerkUserData) -> None:
    """Create or update the Student from Clerk's data. Safe to repeat and to race.

    Data older than what is stored (Clerk's `updated_at`) changes nothing, and
    neither does anything for a deleted student. Data without `updated_at`
    (a session token's claims) only ever creates the row. One query for a
    known student, three for a new one; no row lock is held across them.
    """
    values = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "image_url": user.image_url,
        "clerk_updated_at": user.updated_at,
    }
    if _newer_than_stored(user).update(**values, updated_at=timezone.now()):
        _identity_forget(user.id)
        # A new email reaches the student's Stripe Customer, if they have one.
        customer_sync_after_commit(clerk_user_id=user.id)
        return
    Student.objects.bulk_create(
        [Student(clerk_user_id=user.id, **values)], ignore_conflicts=True
    )
    # A row created meanwhile from older data (a sign-in racing the webhook)
    # must still give way to this data.
    _newer_than_stored(user).update(**values, updated_at=timezone.now())
    _identity_forget(user.id)


def _newer_than_stored(user: ClerkUserData) -> models.QuerySet[Student]:
    live = Student.objects.filter(clerk_user_id=user.id, deleted_at__isnull=True)
    if user.updated_at is None:
        return live.none()
    return live.filter(
        Q(clerk_updated_at__isnull=True) | Q(clerk_updated_at__lt=user.updated_at)
    )


def student_erase(*, clerk_user_id: str) -> None:
    """The account was deleted in Clerk: keep a tombstone, erase the person.

    The Student keeps its Clerk id and gets `deleted_at`; its email, names and
    image are erased, and so are the email and name copied on its enrollments
    and the titles of their admin history entries. Enrollments, amounts,
    statuses and Stripe ids stay (accounting). A student never seen before
    gets a tombstone too, so that a late `user.created` cannot bring the
    person back. Once committed, their Stripe Customer is deleted at Stripe
    (their past payments stay there); nothing more is sent to Stripe about
    them. Idempotent; at most three queries. Call inside a transaction.
    """
    now = timezone.now()
    tombstone = Student(clerk_user_id=clerk_user_id, deleted_at=now)
    # One upsert: whether the row exists, is being created by a sign-in at
    # this instant, or is already a tombstone, it ends erased.
    Student.objects.bulk_create(
        [tombstone],
        update_conflicts=True,
        unique_fields=["clerk_user_id"],
        update_fields=[
            "email",
            "first_name",
            "last_name",
            "image_url",
            "stripe_customer_email",
            "deleted_at",
            "updated_at",
        ],
    )
    erased_enrollments = (
        Enrollment.objects.filter(clerk_user_id=clerk_user_id)
        .exclude(student_email="", student_name="")
        .update(student_email="", student_name="")
    )
    if erased_enrollments:
        # Staff actions logged each enrollment under its title, which named
        # the student's email.
        LogEntry.objects.filter(
            content_type__app_label="courses",
            content_type__model="enrollment",
            object_id__in=Enrollment.objects.filter(clerk_user_id=clerk_user_id)
            .annotate(pk_text=Cast("pk", models.CharField()))
            .values("pk_text"),
        ).update(object_repr=_ERASED_REPR.format(clerk_user_id))
    _identity_remember_deleted(clerk_user_id)
    customer_erase_after_commit(clerk_user_id=clerk_user_id)


# --- Sign-in ---------------------------------------------------------------------


def student_identity_for_sign_in(
    *, clerk_user_id: str, claimed: ClerkUserData | None = None
) -> StudentIdentity:
    """Who a signed-in Clerk user is, from their Student, created at first sight.

    A known student costs one query (none when the shared cache holds them)
    and never a Backend API call. A student never seen is created from the
    token's claims when they carry an email, else from one Backend API call.
    Raises StudentDeleted for a deleted account, and clerk_gateway's
    ClerkUserNotFound or ClerkUnavailable from that call.
    """
    shared = _cache_is_shared()
    if shared:
        cached = cache.get(_identity_cache_key(clerk_user_id))
        if cached is not None:
            identity = StudentIdentity(*cached)
            if identity.is_deleted:
                raise StudentDeleted(clerk_user_id)
            return identity
    identity = _identity_read(clerk_user_id)
    if identity is None:
        _student_create_on_sign_in(clerk_user_id=clerk_user_id, claimed=claimed)
        identity = _identity_read(clerk_user_id) or StudentIdentity("", "", "")
    if shared:
        # add, not set: an erasure committed meanwhile wrote its own entry,
        # which this (possibly older) read must not replace.
        cache.add(
            _identity_cache_key(clerk_user_id),
            _identity_cached(identity),
            IDENTITY_CACHE_SECONDS,
        )
    if identity.is_deleted:
        raise StudentDeleted(clerk_user_id)
    return identity


_warned_no_secret_key = False


def _student_create_on_sign_in(
    *, clerk_user_id: str, claimed: ClerkUserData | None
) -> None:
    global _warned_no_secret_key
    if claimed is not None and claimed.email:
        student_apply_clerk_user(user=claimed)
        return
    try:
        user = clerk_gateway.user_get(clerk_user_id)
    except clerk_gateway.ClerkNotConfigured:
        if not _warned_no_secret_key:
            logger.warning(
                "CLERK_SECRET_KEY is not set: new students without an email claim "
                "are created without an email"
            )
            _warned_no_secret_key = True
        user = claimed or ClerkUserData(id=clerk_user_id)
    student_apply_clerk_user(user=user)


def _identity_read(clerk_user_id: str) -> StudentIdentity | None:
    row = (
        Student.objects.filter(clerk_user_id=clerk_user_id)
        .values_list("email", "first_name", "last_name", "deleted_at")
        .first()
    )
    if row is None:
        return None
    email, first_name, last_name, deleted_at = row
    return StudentIdentity(email, first_name, last_name, deleted_at is not None)


def _cache_is_shared() -> bool:
    # A per-process cache could not forget a deleted student on the other
    # processes: without a shared one, every request reads the database.
    return not isinstance(caches["default"], LocMemCache | DummyCache)


def _identity_cache_key(clerk_user_id: str) -> str:
    return f"students:identity:{clerk_user_id}"


def _identity_cached(identity: StudentIdentity) -> tuple[str, str, str, bool]:
    return (
        identity.email,
        identity.first_name,
        identity.last_name,
        identity.is_deleted,
    )


def _identity_forget(clerk_user_id: str) -> None:
    if _cache_is_shared():
        transaction.on_commit(
            lambda: cache.delete(_identity_cache_key(clerk_user_id)), robust=True
        )


def _identity_remember_deleted(clerk_user_id: str) -> None:
    # Set, not deleted: a request that read the row before the erasure
    # committed can then no longer cache the living student (it only adds).
    if _cache_is_shared():
        deleted = _identity_cached(StudentIdentity("", "", "", is_deleted=True))
        transaction.on_commit(
            lambda: cache.set(
                _identity_cache_key(clerk_user_id), deleted, IDENTITY_CACHE_SECONDS
            ),
            robust=True,
        )
