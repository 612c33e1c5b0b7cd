import time
from decimal import Decimal

import pytest

from courses import stripe_gateway
from courses.authentication import ClerkUser
from courses.models import Enrollment, StripeEvent
from courses.services import payments
from courses.tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

SUCCESS_URL = "http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://localhost:3000/cancel"


def _student(clerk_user_id: str = "user_1") -> ClerkUser:
    return ClerkUser(
        clerk_user_id=clerk_user_id,
        email="a@example.com",
        first_name="Ada",
        last_name="L",
    )


def _checkout(course, student=None, **urls):
    return payments.checkout_start(
        course=course,
        student=student or _student(),
        success_url=urls.get("success_url", SUCCESS_URL),
        cancel_url=urls.get("cancel_url", CANCEL_URL),
    )


def _session_creations(fake_stripe):
    return fake_stripe.requests_to("/v1/checkout/sessions", "POST")


def _paid_session(fake_stripe, session_id: str) -> stripe_gateway.CheckoutSession:
    return stripe_gateway.checkout_session_from_dict(
        fake_stripe.session_pay(session_id)
    )


# --- checkout_start -------------------------------------------------------------------


def test_checkout_start_writes_the_pending_enrollment_before_the_session(fake_stripe):
    course = CourseFactory(price=Decimal("49.99"))

    started = _checkout(course)

    enrollment = Enrollment.objects.get()
    sent = fake_stripe.session(started.session.id)
    assert enrollment.status == Enrollment.Status.PENDING
    assert enrollment.stripe_session_id == started.session.id
    assert enrollment.student_email == "a@example.com"
    assert enrollment.student_name == "Ada L"
    # The session names an enrollment that already existed when it was created.
    assert sent["metadata"] == {
        "course_id": str(course.pk),
        "course_slug": course.slug,
        "clerk_user_id": "user_1",
        "enrollment_id": str(enrollment.pk),
    }
    assert sent["client_reference_id"] == "user_1"
    # The student's Customer pays, not a guest with an email.
    (customer,) = fake_stripe.customers
    assert sent["customer"] == customer["id"]
    assert sent["customer_email"] is None
    assert customer["email"] == "a@example.com"
    assert sent["amount_total"] == 4999


def test_checkout_start_twice_hands_out_the_same_open_session(fake_stripe):
    course = CourseFactory()

    first = _checkout(course)
    second = _checkout(course)

    assert first.session.id == second.session.id
    assert len(fake_stripe.sessions) == 1


def test_checkout_start_after_expiry_reopens_with_a_new_session_and_key(fake_stripe):
    course = CourseFactory()
    first = _checkout(course)
    fake_stripe.session_expire(first.session.id)
    payments.checkout_expired(
        session=stripe_gateway.checkout_session_get(first.session.id)
    )

    second = _checkout(course)

    keys = [r.idempotency_key for r in _session_creations(fake_stripe)]
    assert second.session.id != first.session.id
    assert len(set(keys)) == 2
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING
    assert Enrollment.objects.get().stripe_session_id == second.session.id


def test_checkout_start_when_the_stored_session_was_paid_fulfils_and_refuses(
    fake_stripe,
):
    course = CourseFactory()
    first = _checkout(course)
    fake_stripe.session_pay(first.session.id)

    with pytest.raises(payments.AlreadyEnrolled):
        _checkout(course)

    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def test_checkout_start_while_a_payment_is_clearing_refuses_a_second_session(
    fake_stripe,
):
    course = CourseFactory()
    first = _checkout(course)
    fake_stripe.session_pay(first.session.id, payment_status="unpaid")

    with pytest.raises(payments.PaymentInProgress):
        _checkout(course)

    assert len(fake_stripe.sessions) == 1
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_checkout_start_keys_differ_when_the_purchase_differs(fake_stripe):
    course = CourseFactory()
    first = _checkout(course)
    fake_stripe.session_expire(first.session.id)
    course.title = "Renamed"
    course.save()

    _checkout(course)
    _checkout(CourseFactory(), student=_student("user_2"))

    keys = [r.idempotency_key for r in _session_creations(fake_stripe)]
    assert len(keys) == len(set(keys)) == 3
    assert all(key.startswith("checkout-") for key in keys)


def test_checkout_start_with_other_urls_expires_the_previous_session(fake_stripe):
    course = CourseFactory()
    first = _checkout(course)

    second = _checkout(course, success_url="http://localhost:3000/other")

    (expiry,) = fake_stripe.requests_to(
        f"/v1/checkout/sessions/{first.session.id}/expire", "POST"
    )
    statuses = {s["id"]: s["status"] for s in fake_stripe.sessions}
    assert expiry.method == "POST"
    assert statuses == {first.session.id: "expired", second.session.id: "open"}
    assert Enrollment.objects.get().stripe_session_id == second.session.id
    with pytest.raises(ValueError, match="expired"):
        fake_stripe.session_pay(first.session.id)


def test_checkout_start_after_a_price_change_expires_the_old_price(fake_stripe):
    course = CourseFactory(price=Decimal("49.99"))
    first = _checkout(course)
    course.price = Decimal("79.00")
    course.save()

    second = _checkout(course)

    assert fake_stripe.session(first.session.id)["status"] == "expired"
    assert fake_stripe.session(second.session.id)["amount_total"] == 7900
    assert [s["status"] for s in fake_stripe.sessions].count("open") == 1


def test_checkout_start_when_the_old_session_was_just_paid_enrolls_instead(
    fake_stripe,
):
    course = CourseFactory()
    first = _checkout(course)
    fake_stripe.session_pay(first.session.id)

    with pytest.raises(payments.AlreadyEnrolled):
        _checkout(course, success_url="http://localhost:3000/other")

    assert len(fake_stripe.sessions) == 1
    assert (
        fake_stripe.requests_to(f"/v1/checkout/sessions/{first.session.id}/expire")
        == []
    )
    assert Enrollment.objects.get().status == Enrollment.Status.PAID


def test_checkout_start_when_stripe_cannot_expire_the_old_session_creates_none(
    fake_stripe,
):
    course = CourseFactory()
    first = _checkout(course)
    fake_stripe.fail_with(500, times=2)  # the expiry, then the look-up again

    with pytest.raises(stripe_gateway.PaymentProviderError):
        _checkout(course, success_url="http://localhost:3000/other")

    assert len(fake_stripe.sessions) == 1
    assert fake_stripe.session(first.session.id)["status"] == "open"
    assert Enrollment.objects.get().stripe_session_id == first.session.id


@pytest.mark.parametrize("minutes", [30, 60, 120, 24 * 60])
def test_checkout_session_expires_at_follows_the_setting(
    fake_stripe, settings, minutes
):
    settings.STRIPE_CHECKOUT_EXPIRES_MINUTES = minutes
    before = time.time()

    started = _checkout(CourseFactory())

    after = time.time()
    (request,) = fake_stripe.requests_to("/v1/checkout/sessions", "POST")
    expires_at = int(request.params["expires_at"])
    assert started.session.expires_at == expires_at
    # Rounded down to 5 minutes, kept a minute inside Stripe's 30 minutes to
    # 24 hours whatever the rounding (the fake refuses anything else, as Stripe
    # does): at least 36 minutes before rounding, at most 23 h 59.
    lifetime = min(max(minutes * 60, 36 * 60), 24 * 3600 - 60)
    assert expires_at % 300 == 0
    assert before + lifetime - 300 < expires_at <= after + lifetime
    assert after + 30 * 60 < expires_at < before + 24 * 3600


def test_checkout_start_repeated_before_its_session_is_stored_gets_the_same_one(
    fake_stripe,
):
    """A double click: the second request read the row before the first stored
    its session, so it sends the same parameters under the same key."""
    course = CourseFactory()
    first = _checkout(course)
    Enrollment.objects.update(stripe_session_id=None)

    second = _checkout(course)

    keys = [r.idempotency_key for r in _session_creations(fake_stripe)]
    assert second.session.id == first.session.id
    assert len(fake_stripe.sessions) == 1
    assert keys[0] == keys[1]


def test_checkout_start_does_not_hand_out_a_session_about_to_expire(fake_stripe):
    course = CourseFactory()
    first = _checkout(course)
    fake_stripe.session_update(first.session.id, expires_at=int(time.time()) + 120)

    second = _checkout(course)

    assert second.session.id != first.session.id
    assert fake_stripe.session(first.session.id)["status"] == "expired"


def test_checkout_start_reopens_an_enrollment_expired_by_the_old_sessions_event(
    fake_stripe,
):
    course = CourseFactory()
    first = _checkout(course)
    # Stripe's checkout.session.expired for the replaced session, handled
    # before the new session is stored: the row is expired meanwhile.
    payments.checkout_expired(
        session=stripe_gateway.checkout_session_get(first.session.id)
    )

    second = _checkout(course, success_url="http://localhost:3000/other")

    enrollment = Enrollment.objects.get()
    assert enrollment.stripe_session_id == second.session.id
    assert enrollment.status == Enrollment.Status.PENDING


def test_checkout_start_refuses_an_already_paid_student(fake_stripe):
    course = CourseFactory()
    EnrollmentFactory(course=course, clerk_user_id="user_1", paid=True)

    with pytest.raises(payments.AlreadyEnrolled):
        _checkout(course)

    assert fake_stripe.requests == []


def test_checkout_start_of_a_free_course_enrolls_without_stripe(fake_stripe):
    course = CourseFactory(price=Decimal("0.00"))

    started = _checkout(course)

    assert started.session is None
    assert started.enrollment.status == Enrollment.Status.PAID
    assert started.enrollment.price_paid == Decimal("0.00")
    assert fake_stripe.requests == []


def test_checkout_start_with_stripe_down_leaves_nothing_paid(fake_stripe):
    course = CourseFactory()
    fake_stripe.stop()

    with pytest.raises(stripe_gateway.PaymentProviderError):
        _checkout(course)

    assert not Enrollment.objects.paid().exists()


# --- checkout_fulfill -----------------------------------------------------------------


def test_checkout_fulfill_marks_paid_with_what_stripe_charged(fake_stripe):
    course = CourseFactory(price=Decimal("49.99"))
    started = _checkout(course)
    session = _paid_session(fake_stripe, started.session.id)

    enrollment = payments.checkout_fulfill(session=session)

    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.is_paid
    assert enrollment.price_paid == Decimal("49.99")
    assert enrollment.stripe_payment_intent_id == session.payment_intent_id
    assert enrollment.stripe_customer_id == session.customer_id


def test_checkout_fulfill_is_idempotent(fake_stripe):
    started = _checkout(CourseFactory())
    session = _paid_session(fake_stripe, started.session.id)

    first = payments.checkout_fulfill(session=session)
    second = payments.checkout_fulfill(session=session)

    assert first.pk == second.pk
    assert Enrollment.objects.get().paid_at == first.paid_at
    assert Enrollment.objects.paid().count() == 1


def test_checkout_fulfill_records_the_charged_price_after_a_price_change(fake_stripe):
    course = CourseFactory(price=Decimal("49.99"))
    started = _checkout(course)
    course.price = Decimal("79.00")
    course.save()
    session = _paid_session(fake_stripe, started.session.id)

    enrollment = payments.checkout_fulfill(session=session)

    assert enrollment.price_paid == Decimal("49.99")


def test_checkout_fulfill_ignores_an_unpaid_session(fake_stripe):
    started = _checkout(CourseFactory())
    session = stripe_gateway.checkout_session_get(started.session.id)

    assert payments.checkout_fulfill(session=session) is None
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_checkout_fulfill_creates_the_enrollment_from_metadata_when_missing(
    fake_stripe,
):
    course = CourseFactory(price=Decimal("49.99"))
    created = fake_stripe.checkout_session_add(
        amount=4999,
        metadata={"course_id": str(course.pk), "clerk_user_id": "user_9"},
    )
    session = _paid_session(fake_stripe, created["id"])

    enrollment = payments.checkout_fulfill(session=session)

    assert enrollment.course == course
    assert enrollment.clerk_user_id == "user_9"
    assert enrollment.student_email == "buyer@example.com"
    assert enrollment.student_name == "Ada Lovelace"
    assert enrollment.stripe_session_id == session.id
    assert enrollment.status == Enrollment.Status.PAID


def _stray_session(fake_stripe, course, clerk_user_id="user_1") -> dict:
    """An open session for the enrollment that is not the one stored on it (made
    before sessions were expired on replacement, or racing a new checkout)."""
    return fake_stripe.checkout_session_add(
        amount=stripe_gateway.amount_to_cents(course.price),
        metadata={"course_id": str(course.pk), "clerk_user_id": clerk_user_id},
    )


def test_checkout_fulfill_of_an_older_tab_session_records_that_session(fake_stripe):
    course = CourseFactory()
    stored = _checkout(course)
    stray = _stray_session(fake_stripe, course)
    session = _paid_session(fake_stripe, stray["id"])

    enrollment = payments.checkout_fulfill(session=session)

    assert stored.session.id != stray["id"]
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.stripe_session_id == stray["id"]


def test_checkout_fulfill_ignores_a_session_that_is_not_a_course_purchase(
    fake_stripe,
):
    created = fake_stripe.checkout_session_add(amount=100, metadata={})
    session = _paid_session(fake_stripe, created["id"])

    assert payments.checkout_fulfill(session=session) is None
    assert not Enrollment.objects.exists()


def test_checkout_fulfill_never_gives_back_refunded_access(fake_stripe):
    started = _checkout(CourseFactory())
    session = _paid_session(fake_stripe, started.session.id)
    payments.checkout_fulfill(session=session)
    payments.enrollment_refund(enrollment_id=started.enrollment.pk)

    enrollment = payments.checkout_fulfill(session=session)

    assert enrollment.status == Enrollment.Status.REFUNDED


def test_checkout_verify_refuses_another_students_session(fake_stripe):
    started = _checkout(CourseFactory())
    fake_stripe.session_pay(started.session.id)

    with pytest.raises(payments.PaymentNotFound):
        payments.checkout_verify(session_id=started.session.id, clerk_user_id="user_2")

    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


# --- PaymentIntents -------------------------------------------------------------------


def test_payment_intent_start_stores_its_id_on_the_pending_enrollment(fake_stripe):
    course = CourseFactory(price=Decimal("99.99"))

    started = payments.payment_intent_start(course=course, student=_student())

    enrollment = Enrollment.objects.get()
    intent = fake_stripe.payment_intent(started.payment_intent.id)
    assert enrollment.stripe_payment_intent_id == started.payment_intent.id
    assert enrollment.status == Enrollment.Status.PENDING
    assert intent["amount"] == 9999
    assert intent["metadata"]["enrollment_id"] == str(enrollment.pk)


def test_payment_intent_start_twice_reuses_the_waiting_intent(fake_stripe):
    course = CourseFactory()

    first = payments.payment_intent_start(course=course, student=_student())
    second = payments.payment_intent_start(course=course, student=_student())

    assert first.payment_intent.id == second.payment_intent.id
    assert len(fake_stripe.requests_to("/v1/payment_intents", "POST")) == 1


def test_payment_intent_fulfill_marks_the_enrollment_paid(fake_stripe):
    started = payments.payment_intent_start(
        course=CourseFactory(price=Decimal("99.99")), student=_student()
    )
    intent = stripe_gateway.payment_intent_from_dict(
        fake_stripe.payment_intent_succeed(started.payment_intent.id)
    )

    enrollment = payments.payment_intent_fulfill(payment_intent=intent)
    again = payments.payment_intent_fulfill(payment_intent=intent)

    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.price_paid == Decimal("99.99")
    assert again.paid_at == enrollment.paid_at


def test_payment_failed_marks_only_that_payments_pending_enrollment(fake_stripe):
    started = payments.payment_intent_start(course=CourseFactory(), student=_student())
    paid = EnrollmentFactory(paid=True, stripe_payment_intent_id="pi_other")

    payments.payment_failed(payment_intent_id=started.payment_intent.id)
    payments.payment_failed(payment_intent_id="pi_other")

    assert Enrollment.objects.get(pk=started.enrollment.pk).status == "failed"
    assert Enrollment.objects.get(pk=paid.pk).status == Enrollment.Status.PAID


# --- Expiry ---------------------------------------------------------------------------


def test_checkout_expired_expires_a_pending_enrollment(fake_stripe):
    started = _checkout(CourseFactory())
    session = stripe_gateway.checkout_session_from_dict(
        fake_stripe.session_expire(started.session.id)
    )

    enrollment = payments.checkout_expired(session=session)

    assert enrollment.status == Enrollment.Status.EXPIRED


def test_checkout_expired_never_touches_a_paid_enrollment(fake_stripe):
    started = _checkout(CourseFactory())
    payments.checkout_fulfill(session=_paid_session(fake_stripe, started.session.id))
    expired = stripe_gateway.checkout_session_from_dict(
        fake_stripe.session_update(started.session.id, status="expired")
    )

    payments.checkout_expired(session=expired)

    assert Enrollment.objects.get().status == Enrollment.Status.PAID


# --- Refunds --------------------------------------------------------------------------


def test_enrollment_refund_refunds_through_stripe_once_and_revokes_access(fake_stripe):
    started = _checkout(CourseFactory())
    payments.checkout_fulfill(session=_paid_session(fake_stripe, started.session.id))

    first = payments.enrollment_refund(enrollment_id=started.enrollment.pk)
    second = payments.enrollment_refund(enrollment_id=started.enrollment.pk)

    (request,) = fake_stripe.requests_to("/v1/refunds", "POST")
    assert request.idempotency_key
    assert len(fake_stripe.refunds) == 1
    assert first.status == second.status == Enrollment.Status.REFUNDED
    assert first.refunded_at is not None
    assert not Enrollment.objects.get().is_paid


def test_enrollment_refund_accepts_a_payment_already_refunded_at_stripe(fake_stripe):
    started = _checkout(CourseFactory())
    session = _paid_session(fake_stripe, started.session.id)
    payments.checkout_fulfill(session=session)
    fake_stripe.refund(session.payment_intent_id)  # from Stripe's dashboard

    enrollment = payments.enrollment_refund(enrollment_id=started.enrollment.pk)

    assert enrollment.status == Enrollment.Status.REFUNDED


def test_enrollment_refund_refuses_an_unpaid_enrollment(fake_stripe):
    enrollment = EnrollmentFactory()

    with pytest.raises(payments.NotRefundable):
        payments.enrollment_refund(enrollment_id=enrollment.pk)

    assert fake_stripe.requests == []


def test_enrollment_refund_refuses_a_free_enrollment(fake_stripe):
    enrollment = EnrollmentFactory(paid=True, price_paid=Decimal("0.00"))

    with pytest.raises(payments.NotRefundable):
        payments.enrollment_refund(enrollment_id=enrollment.pk)


def test_refund_recorded_revokes_access_on_a_full_refund_only(fake_stripe):
    started = _checkout(CourseFactory())
    session = _paid_session(fake_stripe, started.session.id)
    payments.checkout_fulfill(session=session)
    charge = stripe_gateway.charge_from_dict(
        fake_stripe.refund(session.payment_intent_id)
    )
    partial = stripe_gateway.Charge(
        id=charge.id,
        payment_intent_id=charge.payment_intent_id,
        amount=charge.amount,
        amount_refunded=Decimal("1.00"),
        is_fully_refunded=False,
    )

    assert payments.refund_recorded(charge=partial) is None
    assert Enrollment.objects.get().status == Enrollment.Status.PAID
    enrollment = payments.refund_recorded(charge=charge)

    assert enrollment.status == Enrollment.Status.REFUNDED
    assert enrollment.refunded_at is not None


# --- stripe_event_process -------------------------------------------------------------


def _nothing_charged(session: dict, **changes) -> dict:
    """The payload of a session completed without a payment: the event alone
    says everything, nothing is read again from Stripe."""
    return {
        **session,
        "payment_intent": None,
        "payment_status": "no_payment_required",
        **changes,
    }


def _event(fake_stripe, event_type, data_object, event_id=None):
    delivery = fake_stripe.webhook_delivery(event_type, data_object, event_id=event_id)
    return stripe_gateway.webhook_event_parse(
        payload=delivery.payload, signature=delivery.signature
    )


def test_stripe_event_process_applies_an_event_once(fake_stripe):
    started = _checkout(CourseFactory())
    event = _event(
        fake_stripe,
        "checkout.session.completed",
        fake_stripe.session_pay(started.session.id),
    )

    outcomes = [payments.stripe_event_process(event=event) for _ in range(10)]

    stored = StripeEvent.objects.get()
    assert outcomes == ["processed"] + ["duplicate"] * 9
    assert stored.processed_at is not None
    assert stored.attempts == 1
    assert stored.type == "checkout.session.completed"
    assert Enrollment.objects.paid().count() == 1


def test_stripe_event_process_stores_and_acknowledges_other_types(fake_stripe):
    event = _event(fake_stripe, "customer.created", {"id": "cus_1"})

    outcome = payments.stripe_event_process(event=event)

    assert outcome == payments.EventOutcome.PROCESSED
    assert StripeEvent.objects.get().processed_at is not None


def test_stripe_event_process_failure_rolls_back_and_records_the_error(fake_stripe):
    course = CourseFactory()
    second = _checkout(course)
    paid = fake_stripe.session_pay(_stray_session(fake_stripe, course)["id"])
    # An amount the database refuses (price_paid >= 0) fails mid-way, after
    # the enrollment's session id was already changed. (With nothing charged,
    # the payload is not read again from Stripe.)
    broken = _nothing_charged(paid, amount_total=-100)
    event = _event(fake_stripe, "checkout.session.completed", broken)

    outcome = payments.stripe_event_process(event=event)

    stored = StripeEvent.objects.get()
    enrollment = Enrollment.objects.get()
    assert outcome == payments.EventOutcome.FAILED
    assert stored.processed_at is None
    assert stored.attempts == 1
    assert "IntegrityError" in stored.last_error
    assert enrollment.status == Enrollment.Status.PENDING
    assert enrollment.stripe_session_id == second.session.id


def test_stripe_event_process_retry_after_a_failure_succeeds(fake_stripe):
    started = _checkout(CourseFactory())
    paid = fake_stripe.session_pay(started.session.id)
    broken = _event(
        fake_stripe,
        "checkout.session.completed",
        _nothing_charged(paid, amount_total=-100),
        event_id="evt_retry",
    )
    payments.stripe_event_process(event=broken)
    fixed = _event(
        fake_stripe, "checkout.session.completed", paid, event_id="evt_retry"
    )

    outcome = payments.stripe_event_process(event=fixed)

    stored = StripeEvent.objects.get()
    assert outcome == payments.EventOutcome.PROCESSED
    assert stored.attempts == 2
    assert stored.last_error == ""
    assert Enrollment.objects.get().status == Enrollment.Status.PAID
