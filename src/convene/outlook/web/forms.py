from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from convene.core.models import SiteSettings
from convene.outlook.mailboxes import pool
from convene.outlook.models import Mode, OutlookSettings


def parse_pool(text: str, service_mailbox: str) -> list[str]:
    """The pool's other mailboxes as typed (one per line, or separated by commas), lower-cased
    and in order; a ``ValidationError`` naming every problem otherwise."""
    found: list[str] = []
    problems: list[str] = []
    for raw in text.replace(",", "\n").splitlines():
        address = raw.strip().lower()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"“{raw.strip()}” is not an email address.")
            continue
        if address == service_mailbox:
            problems.append(f"{address} is the service mailbox already.")
        elif address in found:
            problems.append(f"{address} is listed twice.")
        else:
            found.append(address)
    if len(found) > pool.MAX_EXTRA_MAILBOXES:
        problems.append(f"At most {pool.MAX_EXTRA_MAILBOXES} more mailboxes.")
    if found and not service_mailbox:
        problems.append("Set the service mailbox first: it is the pool's first mailbox.")
    if problems:
        raise ValidationError(problems)
    return found


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
        "created it, who signs in with Microsoft once. Platform calendar: every event is in "
        "one service mailbox of the platform's own Microsoft 365, and nobody signs in.",
    )
    service_mailbox = forms.EmailField(
        label="Service mailbox",
        required=False,
        max_length=254,
        help_text="The mailbox whose calendar holds every event in platform mode, "
        "e.g. events@your-domain.",
    )
    platform_tenant = forms.CharField(
        label="Platform tenant (optional)",
        required=False,
        max_length=100,
        help_text="Tenant id or domain of the platform's Microsoft 365; "
        "empty: the service mailbox's domain.",
    )
    pool_mailboxes = forms.CharField(
        label="Extra mailboxes to send from (optional)",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One address per line, in the same tenant. New events are spread over the "
        "service mailbox and these, so that none goes over Exchange's daily limit of "
        "recipients (meeting invitations count). Each event stays in the mailbox it was "
        "first made in.",
    )
    regular_users_may_create_events = forms.BooleanField(
        label="Regular users may create events", required=False
    )
    unenroll_on_decline = forms.BooleanField(
        label="Unenroll people who decline in Outlook", required=False
    )
    show_decline_comments = forms.BooleanField(
        label="Show decline comments in Convene (asks for permission to read the organizer's mail)",
        required=False,
        help_text="Outlook gives the comment of a decline (“Sorry, I cannot make it”) only as "
        "the answer message in the organizer's mailbox, and reading a message needs the "
        "Microsoft Graph permission Mail.Read, which covers the whole mailbox. Organizer "
        "calendars: each organizer is asked for it (delegated) the next time they save an "
        "event. Platform calendar: the platform registration needs the application permission "
        "Mail.Read or the Exchange role Application Mail.Read on the service mailbox (see "
        "docs/outlook.md). Convene reads only each decliner's answer message, and only while "
        "this is on; without the permission a decline is handled as before, without its "
        "comment.",
    )
    hide_attendees_above = forms.IntegerField(
        label="Hide the attendee list of events with more people than",
        min_value=0,
        max_value=1_000_000,
        required=False,  # left out: unchanged
        help_text="Each person then sees only themselves and the organizer in Outlook "
        "(Graph's hideAttendees). An event may choose otherwise on its form.",
    )

    def __init__(self, *args: Any, missing_configuration: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.missing_configuration = missing_configuration

    def clean_service_mailbox(self) -> str:
        return str(self.cleaned_data["service_mailbox"]).strip().lower()

    def clean_platform_tenant(self) -> str:
        return str(self.cleaned_data["platform_tenant"]).strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        needs_mailbox = cleaned.get("mode") == Mode.PLATFORM and not cleaned.get("service_mailbox")
        if needs_mailbox and "service_mailbox" not in self.errors:
            self.add_error("service_mailbox", "The platform calendar needs a service mailbox.")
        if "pool_mailboxes" not in self.data:
            # A form that does not show the pool leaves it as it is.
            cleaned["pool_mailboxes"] = None
        elif "pool_mailboxes" not in self.errors and "service_mailbox" not in self.errors:
            try:
                cleaned["pool_mailboxes"] = parse_pool(
                    cleaned.get("pool_mailboxes") or "", cleaned.get("service_mailbox") or ""
                )
            except ValidationError as exc:
                self.add_error("pool_mailboxes", exc)
        return cleaned

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
            "show_decline_comments": outlook.show_decline_comments,
            "hide_attendees_above": outlook.hide_attendees_above,
            "service_mailbox": outlook.service_mailbox,
            "platform_tenant": outlook.platform_tenant,
            "pool_mailboxes": "\n".join(pool.members(outlook)[1:]),
            "regular_users_may_create_events": site.regular_users_may_create_events,
        }


class PlatformMailboxForm(forms.Form):
    """The service mailbox as typed on the settings page (tested before it is saved)."""

    service_mailbox = forms.EmailField(max_length=254)
    platform_tenant = forms.CharField(required=False, max_length=100)

    def clean_service_mailbox(self) -> str:
        return str(self.cleaned_data["service_mailbox"]).strip().lower()

    def clean_platform_tenant(self) -> str:
        return str(self.cleaned_data["platform_tenant"]).strip()


class ModeSwitchForm(PlatformMailboxForm):
    """Where a mode switch goes, carried from the settings page to the preview and confirm."""

    mode = forms.ChoiceField(choices=Mode.choices)
    service_mailbox = forms.EmailField(max_length=254, required=False)
    fingerprint = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("mode") == Mode.PLATFORM and not cleaned.get("service_mailbox"):
            raise forms.ValidationError("The platform calendar needs a service mailbox.")
        return cleaned


class HandoverForm(forms.Form):
    """Who takes over the events of someone who left; carried from preview to confirm."""

    target = forms.ChoiceField(
        label="Hand the events to",
        choices=[
            ("coorganizer", "Each event's first co-organizer who has connected Outlook"),
            ("person", "One person for every event"),
            ("platform", "The platform calendar"),
        ],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    person = forms.EmailField(
        label="Their email address",
        required=False,
        max_length=254,
        help_text="Only for “One person for every event”: they must have connected Outlook.",
    )
    fingerprint = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
