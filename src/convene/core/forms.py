from __future__ import annotations

from typing import Any

from django import forms

from convene.core.models import SiteSettings


class BootstrapFormMixin:
    """Gives every widget the Bootstrap class for its kind, so templates stay plain."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class SiteSettingsForm(BootstrapFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SiteSettings
        fields = ["regular_users_may_create_events", "waitlist_claim_hours"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Left empty, the claim window is none: a freed place goes at once.
        self.fields["waitlist_claim_hours"].required = False

    def clean_waitlist_claim_hours(self) -> int:
        hours = self.cleaned_data.get("waitlist_claim_hours")
        return 0 if hours is None else int(hours)
