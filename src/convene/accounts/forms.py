from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm

from convene.accounts.models import Role, User
from convene.core.forms import BootstrapFormMixin
from convene.core.zones import ZoneChoiceField, grouped_choices


class SignInForm(BootstrapFormMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an active account. Try again.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs["autocomplete"] = "email"


class SetPasswordForm(BootstrapFormMixin, auth_forms.SetPasswordForm):  # type: ignore[type-arg]
    """Choosing a password through an invitation link."""


class ProfileForm(BootstrapFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    time_zone = ZoneChoiceField(
        label="Your time zone",
        required=False,
        help_text="Times of your own activity (notices, syncs) are shown in it, and new events "
        "you create start in it. Each event's times stay in the event's own zone.",
    )

    class Meta:
        model = User
        fields = ["display_name", "time_zone"]
        help_texts = {"display_name": "How your name appears to others."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, ZoneChoiceField)
        field.choices = [("", "Not set: use my browser's zone"), *grouped_choices()]


class RoleForm(BootstrapFormMixin, forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
