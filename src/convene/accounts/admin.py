from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from convene.accounts.models import User, normalize_email


class NormalizedEmailMixin:
    """Lower-case the email before the uniqueness check, so that "Ada@x" clashes with "ada@x"
    as a form error rather than a database error."""

    cleaned_data: dict[str, Any]

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class UserChangeFormForEmail(NormalizedEmailMixin, UserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ["email", "display_name", "role", "is_active"]


class UserCreationFormForEmail(NormalizedEmailMixin, AdminUserCreationForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ["email", "display_name", "role"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    form = UserChangeFormForEmail
    add_form = UserCreationFormForEmail
    list_display = ["email", "display_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    list_editable = ["role"]
    search_fields = ["email", "display_name"]
    ordering = ["email"]
    filter_horizontal = ()
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["display_name", "role", "is_active"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "display_name", "role", "password1", "password2"],
            },
        ),
    ]
