from __future__ import annotations

from typing import Any

from django import forms

from convene.core.models import SiteSettings
from convene.outlook.models import Mode, OutlookSettings


class OutlookSettingsForm(forms.Form):
    enabled = forms.BooleanField(
        label="Sync events to Outlook",
        required=False,
        help_text="When on, every upcoming event appears in the Outlook calendars of its people.",
    )
    mode = forms.ChoiceField(
        label="Where events live",
        choices=Mode.choices,
        widget=forms.RadioSelect,
        help_text="Organizer calendars: each event is in the calendar of the person who "
        "created it, who signs in with Microsoft once.",
    )
    regular_users_may_create_events = forms.BooleanField(
        label="Regular users may create events", required=False
    )
    unenroll_on_decline = forms.BooleanField(
        label="Unenroll people who decline in Outlook", required=False
    )

    def __init__(self, *args: Any, missing_configuration: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.missing_configuration = missing_configuration

    def clean_mode(self) -> str:
        mode: str = self.cleaned_data["mode"]
        if mode == Mode.PLATFORM:
            raise forms.ValidationError("The platform calendar is not available yet.")
        return mode

    def clean_enabled(self) -> bool:
        enabled: bool = self.cleaned_data["enabled"]
        if enabled and self.missing_configuration:
            raise forms.ValidationError(
                "Outlook sync cannot be switched on until the app registration is complete: "
                + " ".join(self.missing_configuration)
            )
        return enabled

    @classmethod
    def initial_from(cls, outlook: OutlookSettings, site: SiteSettings) -> dict[str, Any]:
        return {
            "enabled": outlook.enabled,
            "mode": outlook.mode,
            "unenroll_on_decline": outlook.unenroll_on_decline,
            "regular_users_may_create_events": site.regular_users_may_create_events,
        }
