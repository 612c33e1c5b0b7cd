"""The backfill and repair of the students from Clerk's Backend API."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from courses import clerk_gateway
from courses.models import Student
from courses.services.students.records import student_apply_clerk_user, student_erase


@dataclass
class SyncReport:
    applied: int = 0
    # Living students Clerk answers 404 for (deleted there, the webhook lost).
    missing: list[str] = field(default_factory=list)
    erased: int = 0


def students_sync_from_clerk(
    *,
    erase_deleted: bool = False,
    on_page: Callable[[int], None] | None = None,
    page_size: int = clerk_gateway.USER_LIST_PAGE_SIZE,
) -> SyncReport:
    """Create or repair every Student from Clerk's Backend API. Safe to rerun.

    Each listed user goes through student_apply_clerk_user (older data never
    overwrites newer; deleted students stay deleted). A living student Clerk
    did not list is looked up by id: applied if Clerk has them (created while
    the list was read), reported as missing if Clerk answers 404 (a
    `user.deleted` webhook that never arrived), and erased as the webhook
    would have if `erase_deleted`. Raises clerk_gateway's errors.
    """
    report = SyncReport()
    listed: set[str] = set()
    offset = 0
    while True:
        page = clerk_gateway.user_list(offset=offset, limit=page_size)
        for user in page.users:
            student_apply_clerk_user(user=user)
            listed.add(user.id)
        report.applied += len(page.users)
        if on_page is not None:
            on_page(page.size)
        if page.size < page_size:
            break
        offset += page_size
    unlisted = [
        clerk_user_id
        for clerk_user_id in Student.objects.filter(deleted_at__isnull=True)
        .order_by("pk")
        .values_list("clerk_user_id", flat=True)
        if clerk_user_id not in listed
    ]
    for clerk_user_id in unlisted:
        try:
            student_apply_clerk_user(user=clerk_gateway.user_get(clerk_user_id))
            report.applied += 1
        except clerk_gateway.ClerkUserNotFound:
            report.missing.append(clerk_user_id)
            if erase_deleted:
                with transaction.atomic():
                    student_erase(clerk_user_id=clerk_user_id)
                report.erased += 1
    return report
