"""Stripe webhook deliveries: signed checkout.session.completed events, each
with the pending enrollment its checkout would have left in the database.
"""

import datetime
import json
import random
import secrets
import time

from bench import wrk
from bench.databases import Catalog, connect
from bench.load import ENROLLMENT_COLUMNS, _copy
from courses.tests.fakes.stripe import stripe_signature

WEBHOOK_SECRET = "whsec_bench_" + "0" * 24


class Webhooks:
    """Signed checkout.session.completed events, each with its pending enrollment.

    A pending enrollment is what the checkout leaves behind; the first delivery
    of the event marks it paid. Every event has its own id, session and student.
    """

    def __init__(self, catalog: Catalog, *, seed: int) -> None:
        self.catalog = catalog
        self.rng = random.Random(seed)
        self.run_id = secrets.token_hex(4)
        self.serial = 0
        # Events delivered once already: the duplicates scenario replays them.
        self.processed: list[str] = []

    def clean_up(self) -> None:
        """Remove this run's enrollments and events: the next run starts alike."""
        with connect(self.catalog.url) as conn:
            with conn.cursor() as cursor:
                students = [f"user_wh_{self.run_id}_%"]
                # Rows that refer to these enrollments first: raw SQL has no
                # cascade (orders, payments kept for review, lesson progress).
                for table in (
                    "courses_order",
                    "courses_paymentreview",
                    "courses_lessonprogress",
                ):
                    cursor.execute(
                        f"DELETE FROM {table} WHERE enrollment_id IN "  # noqa: S608
                        "(SELECT id FROM courses_enrollment "
                        "WHERE clerk_user_id LIKE %s)",
                        students,
                    )
                cursor.execute(
                    "DELETE FROM courses_enrollment WHERE clerk_user_id LIKE %s",
                    students,
                )
                deleted = cursor.rowcount
                cursor.execute(
                    "DELETE FROM courses_stripeevent WHERE id LIKE %s",
                    [f"evt_wh_{self.run_id}_%"],
                )
            conn.commit()
        if deleted:
            with connect(self.catalog.url, autocommit=True) as conn:
                conn.cursor().execute("VACUUM ANALYZE courses_enrollment")

    def new_events(self, count: int) -> list[str]:
        now = datetime.datetime.now(datetime.UTC)
        rows, events = [], []
        for _ in range(count):
            self.serial += 1
            tag = f"{self.run_id}_{self.serial}"
            course_id, cents = self.rng.choice(self.catalog.priced)
            student = f"user_wh_{tag}"
            session_id = f"cs_wh_{tag}"
            price = f"{cents // 100}.{cents % 100:02d}"
            rows.append(
                (
                    course_id,
                    student,
                    f"{student}@example.com",
                    "Webhook Student",
                    price,
                    "pending",
                    False,
                    None,
                    None,
                    session_id,
                    now,
                    None,
                    None,
                    now,
                )
            )
            events.append(
                checkout_completed(
                    event_id=f"evt_wh_{tag}",
                    session_id=session_id,
                    payment_intent_id=f"pi_wh_{tag}",
                    course_id=course_id,
                    student=student,
                    amount=cents,
                )
            )
        with connect(self.catalog.url) as conn:
            with conn.cursor() as cursor:
                _copy(cursor, "courses_enrollment", ENROLLMENT_COLUMNS, rows)
            conn.commit()
        return events


def checkout_completed(
    *,
    event_id: str,
    session_id: str,
    payment_intent_id: str,
    course_id: int,
    student: str,
    amount: int,
) -> str:
    """A Stripe `checkout.session.completed` event, as Stripe sends it."""
    created = int(time.time())
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": student,
        "created": created,
        "currency": "cad",
        "customer": f"cus_{student}",
        "customer_details": {"email": f"{student}@example.com", "name": "Webhook"},
        "livemode": False,
        "metadata": {"course_id": str(course_id), "clerk_user_id": student},
        "mode": "payment",
        "payment_intent": payment_intent_id,
        "payment_status": "paid",
        "status": "complete",
    }
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created,
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    return json.dumps(event, separators=(",", ":"))


def webhook_request(payload: str) -> wrk.Request:
    signature = stripe_signature(payload.encode(), WEBHOOK_SECRET)
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return wrk.Request("POST", "/api/webhooks/stripe/", headers, payload)
