from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.utils.dateparse import parse_datetime

from convene.core.forms import BootstrapFormMixin
from convene.core.validators import (
    refuse_control_characters,
    refuse_control_characters_except_line_breaks,
)
from convene.core.zones import ZoneChoiceField
from convene.events import bounds
from convene.events.models import AttendeeList, EnrollmentRole, Event, OnlineKind
from convene.events.services import EventDetails
from convene.events.timezones import LocalTimeError, localize

LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock date and time with no zone attached: the zone is another field of the form,
    so Django's own conversion (into the server's zone) would be wrong here."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT_FORMAT)
    default_validators = [bounds.validate_supported_year]

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        try:
            parsed = parse_datetime(str(value).strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError(
                "Enter a date and time, e.g. 2026-03-29 10:00.", code="invalid"
            )
        if parsed.tzinfo is not None:
            # The zone is the form's Time zone field; an offset here would contradict it.
            raise forms.ValidationError(
                "Enter the local date and time without an offset; the time zone is chosen below.",
                code="offset",
            )
        return parsed.replace(second=0, microsecond=0)


class EventForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(
        max_length=bounds.TITLE_MAX_LENGTH, validators=[refuse_control_characters]
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        validators=[refuse_control_characters_except_line_breaks],
        help_text="Plain text; line breaks are kept.",
    )
    timezone = ZoneChoiceField(
        label="Time zone",
        help_text="Start and end are in this zone; everyone sees the event's times in it.",
    )
    start = LocalDateTimeField(label="Starts")
    end = LocalDateTimeField(label="Ends")
    location = forms.CharField(
        max_length=bounds.LOCATION_MAX_LENGTH,
        required=False,
        validators=[refuse_control_characters],
    )
    is_online = forms.BooleanField(label="Online event", required=False)
    online_kind = forms.ChoiceField(
        label="How people join",
        choices=OnlineKind.choices,
        initial=OnlineKind.LINK,
        widget=forms.RadioSelect,
        required=False,
        help_text="A Teams meeting is created by Outlook; its join link is shown to everyone "
        "enrolled.",
    )
    online_url = forms.URLField(
        label="Online meeting link",
        required=False,
        assume_scheme="https",
        max_length=bounds.ONLINE_URL_MAX_LENGTH,
    )
    capacity = forms.IntegerField(
        min_value=1,
        max_value=bounds.MAX_CAPACITY,
        required=False,
        help_text="Most attendees allowed; leave empty for no limit.",
    )
    waitlist_enabled = forms.BooleanField(
        label="Waitlist when full",
        required=False,
        help_text="With a capacity: once every place is taken, people can wait for one, and a "
        "freed place goes to the first person waiting.",
    )
    attendee_list = forms.ChoiceField(
        label="Attendee list in Outlook",
        choices=AttendeeList.choices,
        initial=AttendeeList.AUTO,
        required=False,
        help_text="Hidden: each person sees only themselves and the organizer in the invitation.",
    )

    def __init__(self, *args: Any, planner_zone: str = "", **kwargs: Any) -> None:
        """``planner_zone``: the zone of the person planning (their profile's); a new event
        starts in it, or in the browser's zone when they have none saved yet."""
        super().__init__(*args, **kwargs)
        field = self.fields["timezone"]
        assert isinstance(field, ZoneChoiceField)
        current = str(self.initial.get("timezone", ""))
        if current:
            field.offer(current)  # an event saved in a zone no longer offered keeps it
        else:
            self.initial["timezone"] = planner_zone or settings.TIME_ZONE
            if not planner_zone:
                field.prefer_browser()

    @classmethod
    def initial_for(cls, event: Event | None) -> dict[str, Any]:
        if event is None:
            return {}
        initial = {name: getattr(event, name) for name in cls.base_fields}
        initial["start"] = event.local_start.replace(tzinfo=None)
        initial["end"] = event.local_end.replace(tzinfo=None)
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        zone_name = data.get("timezone")
        if zone_name:
            for name in ("start", "end"):
                local = data.get(name)
                if local is None:
                    continue
                try:
                    data[name] = localize(local, zone_name)
                except LocalTimeError as problem:
                    self.add_error(name, str(problem))
        start, end = data.get("start"), data.get("end")
        if (
            isinstance(start, datetime)
            and isinstance(end, datetime)
            and start.tzinfo is not None
            and end.tzinfo is not None
            and end <= start
        ):
            self.add_error("end", "The event must end after it starts.")
        return data

    def details(self) -> EventDetails:
        data = self.cleaned_data
        kind = data.get("online_kind") or OnlineKind.LINK
        return EventDetails(
            title=data["title"].strip(),
            description=data["description"],
            start=data["start"],
            end=data["end"],
            timezone=data["timezone"],
            location=data["location"].strip(),
            is_online=data["is_online"],
            # A Teams meeting has Outlook's link, not one typed here.
            online_url="" if kind == OnlineKind.TEAMS else data["online_url"],
            online_kind=kind,
            capacity=data["capacity"],
            waitlist_enabled=data["waitlist_enabled"],
            attendee_list=data.get("attendee_list") or AttendeeList.AUTO,
        )


class CancelEventForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label="Message to the people on this event",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=1000,
        validators=[refuse_control_characters_except_line_breaks],
    )


class AddPersonForm(BootstrapFormMixin, forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=EnrollmentRole.choices, initial=EnrollmentRole.ATTENDEE)
    # Set by the "Invite them" button offered when nobody uses the address yet.
    invite = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=EnrollmentRole.choices)
