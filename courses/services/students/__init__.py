"""Students: their records kept in step with Clerk (webhook deliveries, the
backfill), erased on deletion, and read at each sign-in.

The use cases live in one module each; the names the views, the admin,
authentication and the commands call are importable from here.
"""

from courses.services.students.deliveries import (
    HANDLED_EVENT_TYPES,
    DeliveryOutcome,
    clerk_delivery_process,
)
from courses.services.students.records import (
    IDENTITY_CACHE_SECONDS,
    StudentDeleted,
    StudentIdentity,
    student_apply_clerk_user,
    student_erase,
    student_identity_for_sign_in,
)
from courses.services.students.sync import SyncReport, students_sync_from_clerk

__all__ = [
    "HANDLED_EVENT_TYPES",
    "IDENTITY_CACHE_SECONDS",
    "DeliveryOutcome",
    "StudentDeleted",
    "StudentIdentity",
    "SyncReport",
    "clerk_delivery_process",
    "student_apply_clerk_user",
    "student_erase",
    "student_identity_for_sign_in",
    "students_sync_from_clerk",
]
