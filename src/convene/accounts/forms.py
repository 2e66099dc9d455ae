from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from convene.accounts.models import Role, User
from convene.core.forms import BootstrapFormMixin


class SignInForm(BootstrapFormMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an active account. Try again.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs["autocomplete"] = "email"


class ProfileForm(BootstrapFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ["display_name"]
        help_texts = {"display_name": "How your name appears to others."}


class RoleForm(BootstrapFormMixin, forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
