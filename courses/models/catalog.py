"""The catalog: courses, their paid-enrollment count and their published lessons."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from courses.models.base import CatalogQuerySet
from courses.models.learning import (
    Lesson,
    published_lesson_count,
    published_lesson_seconds,
)
from courses.models.payments import Enrollment


class CourseQuerySet(CatalogQuerySet):
    def active(self) -> "CourseQuerySet":
        return self.filter(is_active=True)

    def with_enrollment_count(self) -> "CourseQuerySet":
        """Annotate `paid_enrollment_count` in the same query, whatever the row count.

        A correlated subquery rather than a JOIN + GROUP BY: it is evaluated
        only for the rows the page keeps, so LIMIT applies before counting.
        """
        return self.annotate(
            paid_enrollment_count=paid_enrollment_count(models.OuterRef("pk"))
        )

    def with_lesson_totals(self) -> "CourseQuerySet":
        """Annotate `published_lesson_count` and `published_lesson_seconds`.

        Correlated subqueries too, answered from lesson_course_published_idx:
        the course detail stays one query however many lessons it has.
        """
        return self.annotate(
            published_lesson_count=published_lesson_count(models.OuterRef("pk")),
            published_lesson_seconds=published_lesson_seconds(models.OuterRef("pk")),
        )


def paid_enrollment_count(course: models.OuterRef) -> models.Func:
    """COUNT(*) of the paid enrollments of `course` (an OuterRef), as a subquery.

    COUNT(*) rather than COUNT(id) ... GROUP BY: PostgreSQL answers it from
    enrollment_course_status_idx alone (an index-only scan), and an aggregate
    without GROUP BY gives 0 rather than NULL for a course with none.
    """
    paid = (
        Enrollment.objects.filter(course=course, status=Enrollment.Status.PAID)
        .order_by()
        .values("course_id")
    )
    return models.Func(
        models.Subquery(paid),
        template="(SELECT COUNT(*) FROM %(expressions)s AS paid)",
        output_field=models.IntegerField(),
    )


class Course(models.Model):
    title = models.CharField(
        _("course title"), max_length=200, help_text=_("Full title of the course")
    )
    description = models.TextField(
        _("description"), help_text=_("Detailed description of the course")
    )
    slug = models.SlugField(
        _("slug"),
        max_length=200,
        unique=True,
        help_text=_("Unique identifier for the URL (e.g. python-for-beginners)"),
    )
    price = models.DecimalField(
        _("price"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text=_("Price of the course in dollars"),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Can the course be bought?")
    )
    instructor_name = models.CharField(_("instructor name"), max_length=200, blank=True)
    duration_hours = models.PositiveIntegerField(
        _("duration (hours)"),
        null=True,
        blank=True,
        help_text=_("Estimated length of the course in hours"),
    )
    thumbnail_url = models.URLField(
        _("thumbnail URL"),
        max_length=500,
        blank=True,
        help_text=_("URL of the course image"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CourseQuerySet.as_manager()

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["slug"], name="course_slug_idx"),
            models.Index(fields=["is_active"], name="course_is_active_idx"),
            # The default listing: active courses, newest first.
            models.Index(
                fields=["is_active", "-created_at", "-id"],
                name="course_active_newest_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="course_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def enrollment_count(self) -> int:
        """Paid enrollments; uses the annotation when the queryset provided one."""
        annotated = getattr(self, "paid_enrollment_count", None)
        if annotated is not None:
            return annotated
        return self.enrollments.filter(status=Enrollment.Status.PAID).count()

    @property
    def lesson_count(self) -> int:
        """Published lessons; uses the annotation when the queryset provided one."""
        annotated = getattr(self, "published_lesson_count", None)
        if annotated is not None:
            return annotated
        return Lesson.objects.filter(course=self).published().count()

    @property
    def duration_seconds(self) -> int:
        """Total length of the published lessons; uses the annotation if present."""
        annotated = getattr(self, "published_lesson_seconds", None)
        if annotated is not None:
            return annotated
        published = Lesson.objects.filter(course=self).published()
        total = published.aggregate(total=models.Sum("duration_seconds"))["total"]
        return total or 0
