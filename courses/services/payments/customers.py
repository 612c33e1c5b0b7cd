"""One Stripe Customer per student: created at their first payment, named in every
later one, told when the student's email changes, deleted when they are.

Stripe is called outside any transaction. Creation carries an Idempotency-Key
derived from the student, so two first checkouts at once get one Customer.
A change of email or a deletion is sent after the Student's change commits;
if Stripe fails then, the Student row still says what is left to do and
`reconcile_payments` does it (customers_reconcile): a Clerk webhook never
fails because of Stripe.
"""

import hashlib
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Student

logger = logging.getLogger(__name__)


def customer_for_student(*, student: ClerkUser, replacing: str = "") -> str:
    """The student's Stripe Customer id, the Customer created (and stored on their
    Student) at the first call. `replacing`: a Customer Stripe no longer knows,
    which a new one replaces. Raises the gateway's errors."""
    stored = (
        Student.objects.filter(clerk_user_id=student.clerk_user_id)
        .values_list("stripe_customer_id", "email", "first_name", "last_name")
        .first()
    )
    if stored is not None and stored[0]:
        return stored[0]
    # The Student's data when it has some (Clerk's latest), else the token's.
    if stored is not None and stored[1]:
        _customer_id, email, first_name, last_name = stored
    else:
        email, first_name, last_name = (
            student.email,
            student.first_name,
            student.last_name,
        )
    name = f"{first_name} {last_name}".strip()
    customer = stripe_gateway.customer_create(
        email=email,
        name=name,
        clerk_user_id=student.clerk_user_id,
        # Concurrent first checkouts send the same request with the same key:
        # Stripe creates one Customer and answers it to both.
        idempotency_key=_customer_key(student.clerk_user_id, email, name, replacing),
    )
    return _customer_store(student=student, customer_id=customer.id, email=email)


def customer_forget(*, clerk_user_id: str, customer_id: str) -> None:
    """Stripe no longer knows this Customer (deleted in the dashboard): the next
    payment creates another."""
    Student.objects.filter(
        clerk_user_id=clerk_user_id, stripe_customer_id=customer_id
    ).update(stripe_customer_id="", stripe_customer_email="")
    logger.warning(
        "Stripe Customer %s of %s is gone at Stripe; a new one will be made",
        customer_id,
        clerk_user_id,
    )


def _customer_key(clerk_user_id: str, *parts: str) -> str:
    text = "|".join((clerk_user_id, *parts))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"customer-{clerk_user_id}-{digest[:24]}"


def _customer_store(*, student: ClerkUser, customer_id: str, email: str) -> str:
    """Store the id unless another call stored one first; the id stored wins.

    A student without a record yet (signed in before it existed) gets one
    from what the token said, as at sign-in.
    """
    clerk_user_id = student.clerk_user_id
    updated = Student.objects.filter(
        clerk_user_id=clerk_user_id, stripe_customer_id="", deleted_at__isnull=True
    ).update(stripe_customer_id=customer_id, stripe_customer_email=email)
    if not updated:
        Student.objects.bulk_create(
            [
                Student(
                    clerk_user_id=clerk_user_id,
                    email=email,
                    first_name=student.first_name[:255],
                    last_name=student.last_name[:255],
                    stripe_customer_id=customer_id,
                    stripe_customer_email=email,
                )
            ],
            ignore_conflicts=True,
        )
    stored = (
        Student.objects.filter(clerk_user_id=clerk_user_id)
        .values_list("stripe_customer_id", flat=True)
        .first()
    )
    return stored or customer_id


# --- Keeping the Customer in step with the student ---------------------------------


def customer_sync_after_commit(*, clerk_user_id: str) -> None:
    """Once the Student's change commits, send a new email to their Customer."""
    transaction.on_commit(
        lambda: _customer_email_push(clerk_user_id=clerk_user_id), robust=True
    )


def customer_erase_after_commit(*, clerk_user_id: str) -> None:
    """Once the erasure commits, delete the student's Customer at Stripe."""
    transaction.on_commit(
        lambda: _customer_delete(clerk_user_id=clerk_user_id), robust=True
    )


@dataclass
class CustomerReport:
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def customers_reconcile() -> CustomerReport:
    """Send every email change and deletion that Stripe has not taken yet."""
    report = CustomerReport()
    stale = (
        Student.objects.filter(deleted_at__isnull=True)
        .exclude(stripe_customer_id="")
        .exclude(stripe_customer_email=F("email"))
        .exclude(email="")
        .order_by("pk")
        .values_list("clerk_user_id", flat=True)
    )
    for clerk_user_id in stale:
        outcome = _customer_email_push(clerk_user_id=clerk_user_id)
        _report(report.updated, report.failed, clerk_user_id, outcome)
    erased = (
        Student.objects.filter(deleted_at__isnull=False)
        .exclude(stripe_customer_id="")
        .order_by("pk")
        .values_list("clerk_user_id", flat=True)
    )
    for clerk_user_id in erased:
        outcome = _customer_delete(clerk_user_id=clerk_user_id)
        _report(report.deleted, report.failed, clerk_user_id, outcome)
    return report


def _report(done: list[str], failed: list[str], name: str, outcome: bool | None):
    if outcome is True:
        done.append(name)
    elif outcome is False:
        failed.append(name)


def _customer_email_push(*, clerk_user_id: str) -> bool | None:
    """Give the Customer the student's email if it has another one. None when
    there was nothing to do, else whether Stripe took it."""
    if not stripe_gateway.is_configured():
        return None  # reconcile_payments does it once Stripe is configured
    row = (
        Student.objects.filter(clerk_user_id=clerk_user_id, deleted_at__isnull=True)
        .exclude(stripe_customer_id="")
        .values_list("stripe_customer_id", "email", "stripe_customer_email")
        .first()
    )
    if row is None:
        return None
    customer_id, email, sent = row
    if not email or email == sent:
        return None
    try:
        stripe_gateway.customer_update_email(customer_id=customer_id, email=email)
    except stripe_gateway.PaymentObjectNotFound:
        customer_forget(clerk_user_id=clerk_user_id, customer_id=customer_id)
        return None
    except stripe_gateway.PaymentProviderError:
        logger.warning(
            "Email of Stripe Customer %s not updated; reconcile_payments retries",
            customer_id,
        )
        return False
    # Only if the email is still the one sent: a newer change sends its own.
    Student.objects.filter(
        clerk_user_id=clerk_user_id, stripe_customer_id=customer_id, email=email
    ).update(stripe_customer_email=email)
    return True


def _customer_delete(*, clerk_user_id: str) -> bool | None:
    """Delete an erased student's Customer at Stripe, then forget its id. None
    when there was nothing to do, else whether Stripe took it."""
    if not stripe_gateway.is_configured():
        return None  # reconcile_payments does it once Stripe is configured
    customer_id = (
        Student.objects.filter(clerk_user_id=clerk_user_id, deleted_at__isnull=False)
        .exclude(stripe_customer_id="")
        .values_list("stripe_customer_id", flat=True)
        .first()
    )
    if customer_id is None:
        return None
    try:
        stripe_gateway.customer_delete(customer_id)
    except stripe_gateway.PaymentObjectNotFound:
        pass  # deleted already (an earlier attempt, or the dashboard)
    except stripe_gateway.PaymentProviderError:
        logger.warning(
            "Stripe Customer %s of an erased student not deleted; "
            "reconcile_payments retries",
            customer_id,
        )
        return False
    Student.objects.filter(
        clerk_user_id=clerk_user_id, stripe_customer_id=customer_id
    ).update(stripe_customer_id="")
    return True
