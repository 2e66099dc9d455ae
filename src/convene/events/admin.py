"""Events in Django admin are read-only: every change must go through ``services`` so that it
is checked and announced (an edit here would never reach Outlook).

An event may have thousands of people: its change page shows the counts by role, its first
people, and a link to all of them in the enrollment list (paginated, searchable); every list
reads the people and events it shows in its own query, never one per row."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from convene.events import roster
from convene.events.models import Enrollment, Event, WaitlistEntry

# People shown on an event's change page; the rest are in the enrollment list.
INLINE_PEOPLE = 50


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class FirstPeopleFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """The event's first ``INLINE_PEOPLE`` people (read-only: nothing is ever saved here)."""

    def get_queryset(self) -> QuerySet[Enrollment]:
        if not hasattr(self, "_first_people"):
            self._first_people = super().get_queryset()[:INLINE_PEOPLE]
        return self._first_people


class EnrollmentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Enrollment
    formset = FirstPeopleFormSet
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    extra = 0
    verbose_name_plural = f"Enrollments (the first {INLINE_PEOPLE}: all of them under People)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Enrollment]:
        # Each row shows its person, and its title (Enrollment.__str__) names the event too.
        queryset: QuerySet[Enrollment] = super().get_queryset(request)
        return queryset.select_related("user", "event").order_by(
            roster.ROLE_ORDER, "user__display_name", "user__email"
        )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["title", "start", "timezone", "status", "created_by"]
    list_select_related = ["created_by"]
    list_filter = ["status", "is_online"]
    search_fields = ["title", "location"]
    date_hierarchy = "start"
    readonly_fields = ["people"]
    inlines = [EnrollmentInline]

    @admin.display(description="People")
    def people(self, event: Event) -> str:
        """Counts by role, and the link to every enrollment of the event."""
        counts = roster.counts(event)
        url = reverse("admin:events_enrollment_changelist") + f"?event__id__exact={event.pk}"
        return format_html(
            '{} · <a href="{}">all {} in the enrollment list</a>',
            format_html_join(", ", "{}s: {}", ((role.label, n) for role, n in counts.items())),
            url,
            sum(counts.values()),
        )


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["event", "user", "role", "created_at"]
    # The list is sorted by Enrollment.Meta.ordering (created_at, pk), which has its index.
    list_select_related = ["event", "user"]
    list_filter = ["role"]
    search_fields = ["event__title", "user__email"]
    # No second count of every enrollment on each filtered page.
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Enrollment]:
        # The change page's title is Enrollment.__str__ (its person and event).
        queryset: QuerySet[Enrollment] = super().get_queryset(request)
        return queryset.select_related("event", "user")


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    list_display = ["event", "user", "position", "joined_at", "offered_until"]
    list_select_related = ["event", "user"]
    search_fields = ["event__title", "user__email"]
