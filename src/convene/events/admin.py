"""Events in Django admin are read-only: every change must go through ``services`` so that it
is checked and announced (an edit here would never reach Outlook)."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from convene.events.models import Enrollment, Event, WaitlistEntry


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class EnrollmentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Enrollment
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["title", "start", "timezone", "status", "created_by"]
    list_filter = ["status", "is_online"]
    search_fields = ["title", "location"]
    date_hierarchy = "start"
    inlines = [EnrollmentInline]


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["event", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["event__title", "user__email"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    list_display = ["event", "user", "position", "joined_at", "offered_until"]
    list_select_related = ["event", "user"]
    search_fields = ["event__title", "user__email"]
