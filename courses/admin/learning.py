"""Staff admin for a course's sections and lessons.

A course's page edits its sections inline, a section's page its lessons
inline, both ordered by position. The Lesson admin lists every lesson with
search and filters, and shows the body as students get it: rendered from
Markdown and sanitised (courses/markdown.py), never the raw HTML.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from courses.markdown import markdown_to_safe_html
from courses.models import Lesson, Section

_URL_FIELD = {models.URLField: {"assume_scheme": "https"}}


class SectionInline(admin.TabularInline):
    model = Section
    fields = ["title", "position", "lesson_count"]
    readonly_fields = ["lesson_count"]
    ordering = ["position", "id"]
    extra = 1
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Section]:
        # One COUNT per section in the inline's own query, not one query each.
        return (
            super()
            .get_queryset(request)
            .annotate(lessons_total=models.Count("lessons"))
        )

    @admin.display(description=_("Lessons"))
    def lesson_count(self, obj: Section) -> int | str:
        return getattr(obj, "lessons_total", "-")


class LessonInlineFormSet(forms.BaseInlineFormSet):
    """Refuses two lessons of one section's form with the same slug.

    Lesson.clean checks slugs against the lessons already saved; lessons added
    together in one form are checked here.
    """

    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            slug = data.get("slug")
            if not slug or data.get("DELETE"):
                continue
            if slug in seen:
                raise ValidationError(
                    _("Two lessons of this course cannot share the slug “%(slug)s”."),
                    params={"slug": slug},
                )
            seen.add(slug)


class LessonInline(admin.StackedInline):
    model = Lesson
    formset = LessonInlineFormSet
    fields = [
        ("title", "slug"),
        ("position", "kind", "duration_seconds"),
        "is_preview",
        "is_published",
        "video_url",
        "body",
    ]
    prepopulated_fields = {"slug": ("title",)}
    formfield_overrides = _URL_FIELD
    ordering = ["position", "id"]
    extra = 1
    show_change_link = True


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "position", "lesson_count"]
    list_filter = ["course"]
    search_fields = ["title", "course__title"]
    list_select_related = ["course"]
    autocomplete_fields = ["course"]
    ordering = ["course__title", "position", "id"]
    inlines = [LessonInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Section]:
        # The course is part of a section's name (autocomplete, lists).
        return (
            super()
            .get_queryset(request)
            .select_related("course")
            .annotate(lessons_total=models.Count("lessons"))
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Section | None = None):
        # Moving a section would move its lessons' slugs into another course,
        # where they may clash: create a section there instead.
        return ["course"] if obj is not None else []

    @admin.display(description=_("Lessons"), ordering="lessons_total")
    def lesson_count(self, obj: Section) -> int:
        return obj.lessons_total


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "course",
        "section",
        "position",
        "kind",
        "duration_seconds",
        "is_preview",
        "is_published",
    ]
    list_filter = ["course", "kind", "is_preview", "is_published"]
    search_fields = ["title", "slug", "section__title", "course__title"]
    list_select_related = ["course", "section__course"]
    autocomplete_fields = ["section"]
    prepopulated_fields = {"slug": ("title",)}
    formfield_overrides = _URL_FIELD
    ordering = ["course__title", "section__position", "section_id", "position", "id"]
    readonly_fields = ["course", "body_preview"]
    fieldsets = (
        (None, {"fields": ("section", "course", "title", "slug", "position")}),
        (
            _("Content"),
            {"fields": ("kind", "duration_seconds", "video_url", "body")},
        ),
        (_("Access"), {"fields": ("is_preview", "is_published")}),
        (_("Preview"), {"fields": ("body_preview",)}),
    )

    @admin.display(description=_("Body as students see it"))
    def body_preview(self, obj: Lesson) -> SafeString | str:
        if not obj.body:
            return "-"
        # Sanitised by nh3 (courses/markdown.py): the same HTML the API sends.
        safe_html = mark_safe(markdown_to_safe_html(obj.body))  # noqa: S308
        return format_html('<div class="lesson-body-preview">{}</div>', safe_html)
