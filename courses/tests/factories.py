"""factory_boy factories for the models."""

import datetime
from decimal import Decimal

import factory
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from courses.models import (
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Order,
    Section,
    Student,
)


class CourseFactory(DjangoModelFactory):
    class Meta:
        model = Course

    title = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.LazyAttribute(lambda course: slugify(course.title))
    description = factory.LazyAttribute(lambda course: f"All about {course.title}.")
    price = Decimal("49.99")
    instructor_name = "Marie Dupont"
    duration_hours = 10


class EnrollmentFactory(DjangoModelFactory):
    class Meta:
        model = Enrollment

    course = factory.SubFactory(CourseFactory)
    clerk_user_id = factory.Sequence(lambda n: f"user_{n}")
    student_email = factory.LazyAttribute(lambda e: f"{e.clerk_user_id}@example.com")
    student_name = "Student Name"
    price_paid = factory.LazyAttribute(lambda e: e.course.price)

    class Params:
        paid = factory.Trait(
            status=Enrollment.Status.PAID,
            is_paid=True,
            paid_at=factory.Faker("date_time", tzinfo=datetime.UTC),
        )


class SectionFactory(DjangoModelFactory):
    class Meta:
        model = Section

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Section {n}")
    position = factory.Sequence(lambda n: n)


class LessonFactory(DjangoModelFactory):
    """A published text lesson; Lesson.save() sets its course from the section."""

    class Meta:
        model = Lesson

    section = factory.SubFactory(SectionFactory)
    title = factory.Sequence(lambda n: f"Lesson {n}")
    slug = factory.LazyAttribute(lambda lesson: slugify(lesson.title))
    position = factory.Sequence(lambda n: n)
    body = "Some *Markdown*."
    duration_seconds = 300


class LessonProgressFactory(DjangoModelFactory):
    class Meta:
        model = LessonProgress

    enrollment = factory.SubFactory(EnrollmentFactory, paid=True)
    lesson = factory.SubFactory(
        LessonFactory, section__course=factory.SelfAttribute("...enrollment.course")
    )


class StudentFactory(DjangoModelFactory):
    class Meta:
        model = Student

    clerk_user_id = factory.Sequence(lambda n: f"user_student{n}")
    email = factory.LazyAttribute(lambda s: f"{s.clerk_user_id}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"
    clerk_updated_at = factory.Faker("date_time", tzinfo=datetime.UTC)


class OrderFactory(DjangoModelFactory):
    """A paid Checkout order of a paid enrollment."""

    class Meta:
        model = Order

    enrollment = factory.SubFactory(EnrollmentFactory, paid=True)
    amount_subtotal = factory.LazyAttribute(lambda o: o.enrollment.price_paid)
    amount_total = factory.LazyAttribute(lambda o: o.enrollment.price_paid)
    currency = "cad"
    status = Order.Status.PAID
    stripe_checkout_session_id = factory.Sequence(lambda n: f"cs_test_order{n}")
    stripe_payment_intent_id = factory.Sequence(lambda n: f"pi_order{n}")
    stripe_charge_id = factory.Sequence(lambda n: f"ch_order{n}")
    receipt_url = factory.LazyAttribute(
        lambda o: f"https://pay.stripe.com/receipts/payment/{o.stripe_charge_id}"
    )
    paid_at = factory.Faker("date_time", tzinfo=datetime.UTC)
