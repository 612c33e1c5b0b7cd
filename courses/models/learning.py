"""The learning side: a course's sections and lessons, and what each student completed.

A lesson also carries its section's course (`Lesson.course`, derived, never
edited) so that the database itself keeps slugs unique per course and a
course's lessons are found without a join.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from courses.models.base import CatalogQuerySet


class Section(models.Model):
    course = models.ForeignKey(
        "courses.Course",
        on_delete=models.CASCADE,
        related_name="sections",
        verbose_name=_("course"),
    )
    title = models.CharField(_("title"), max_length=200)
    position = models.IntegerField(
        _("position"),
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Sections are shown by position, then in the order created."),
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("section")
        verbose_name_plural = _("sections")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(position__gte=0),
                name="section_position_not_negative",
            ),
            # The target of the lessons' (section, course) foreign key, which
            # holds Lesson.course equal to its section's course on PostgreSQL
            # (migration 0002).
            models.UniqueConstraint(
                fields=["id", "course"], name="section_id_course_unique"
            ),
        ]

    def __str__(self) -> str:
        # With the course: section titles ("Introduction") repeat across courses.
        return f"{self.course} / {self.title}"


class LessonQuerySet(CatalogQuerySet):
    def published(self) -> "LessonQuerySet":
        return self.filter(is_published=True)

    def in_outline_order(self) -> "LessonQuerySet":
        """Sections by position then id, and within each, lessons the same way."""
        return self.order_by("section__position", "section_id", "position", "id")


def published_lesson_count(course: models.OuterRef) -> models.Func:
    """COUNT(*) of the published lessons of `course` (an OuterRef), as a subquery."""
    return models.Func(
        models.Subquery(_published_of(course).values("id")),
        template="(SELECT COUNT(*) FROM %(expressions)s AS published)",
        output_field=models.IntegerField(),
    )


def published_lesson_seconds(course: models.OuterRef) -> models.Func:
    """Total duration_seconds of the published lessons of `course`, 0 for none."""
    return models.Func(
        models.Subquery(_published_of(course).values("duration_seconds")),
        template=(
            "(SELECT COALESCE(SUM(published.duration_seconds), 0) "
            "FROM %(expressions)s AS published)"
        ),
        output_field=models.IntegerField(),
    )


def _published_of(course: models.OuterRef) -> LessonQuerySet:
    return Lesson.objects.filter(course=course, is_published=True).order_by()


class Lesson(models.Model):
    class Kind(models.TextChoices):
        VIDEO = "video", _("Video")
        TEXT = "text", _("Text")

    section = models.ForeignKey(
        Section,
        on_delete=models.CASCADE,
        related_name="lessons",
        verbose_name=_("section"),
    )
    # Always the section's course (save() sets it): what makes "unique per
    # course" a database constraint.
    course = models.ForeignKey(
        "courses.Course",
        on_delete=models.CASCADE,
        related_name="lessons",
        editable=False,
        # lesson_course_published_idx and the slug constraint start with it.
        db_index=False,
        verbose_name=_("course"),
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(
        _("slug"),
        max_length=200,
        db_index=False,  # lesson_slug_unique_per_course indexes (course, slug)
        help_text=_("Unique within the course (e.g. installing-python)"),
    )
    position = models.IntegerField(
        _("position"),
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Lessons are shown by position, then in the order created."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind, default=Kind.TEXT)
    body = models.TextField(
        _("body"),
        blank=True,
        help_text=_("Markdown; HTML is allowed but sanitised when shown."),
    )
    video_url = models.URLField(_("video URL"), max_length=500, blank=True)
    duration_seconds = models.IntegerField(
        _("duration (seconds)"), default=0, validators=[MinValueValidator(0)]
    )
    is_preview = models.BooleanField(
        _("free preview"),
        default=False,
        help_text=_("Anyone may open it, without paying."),
    )
    is_published = models.BooleanField(
        _("published"),
        default=True,
        help_text=_("Unpublished lessons are hidden from students and not counted."),
    )

    objects = LessonQuerySet.as_manager()

    class Meta:
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")
        ordering = ["position", "id"]
        indexes = [
            # A course's published lessons: counts, outline, progress.
            models.Index(
                fields=["course", "is_published"], name="lesson_course_published_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "slug"],
                name="lesson_slug_unique_per_course",
                violation_error_message=_(
                    "Another lesson of this course already has this slug."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(position__gte=0),
                name="lesson_position_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_seconds__gte=0),
                name="lesson_duration_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["video", "text"]),
                name="lesson_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # The course follows the section whichever code path saves the lesson.
        self.course_id = self.section.course_id
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "section" in update_fields:
            kwargs["update_fields"] = {*update_fields, "course"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Forms leave `course` out (it is not editable), so Django's own check
        # of lesson_slug_unique_per_course skips it: check it here.
        section = getattr(self, "section", None)
        if section is None or not self.slug:
            return
        self.course_id = section.course_id
        if self.course_id is None:
            return
        taken = Lesson.objects.filter(course_id=self.course_id, slug=self.slug)
        if self.pk is not None:
            taken = taken.exclude(pk=self.pk)
        if taken.exists():
            raise ValidationError(
                {"slug": _("Another lesson of this course already has this slug.")}
            )


class LessonProgress(models.Model):
    """A lesson that a student completed, once per enrollment and lesson."""

    enrollment = models.ForeignKey(
        "courses.Enrollment",
        on_delete=models.CASCADE,
        related_name="lesson_progress",
        db_index=False,  # one_progress_per_lesson starts with it
        verbose_name=_("enrollment"),
    )
    lesson = models.ForeignKey(
        Lesson,
        on_delete=models.CASCADE,
        related_name="progress",
        verbose_name=_("lesson"),
    )
    completed_at = models.DateTimeField(_("completed at"), default=timezone.now)

    class Meta:
        verbose_name = _("lesson progress")
        verbose_name_plural = _("lesson progress")
        ordering = ["completed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "lesson"], name="one_progress_per_lesson"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id} / {self.lesson_id}"
