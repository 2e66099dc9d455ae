"""Forms of series: how an event repeats, and changing or cancelling one session."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms

from convene.core.forms import BootstrapFormMixin
from convene.core.validators import (
    refuse_control_characters,
    refuse_control_characters_except_line_breaks,
)
from convene.events import bounds
from convene.events.forms import LocalDateTimeField
from convene.events.models import Event
from convene.events.recurrence import (
    MAX_INTERVAL,
    MAX_SESSIONS,
    WEEKDAY_NAMES,
    Frequency,
    MonthlyBy,
    Rule,
)
from convene.events.series import MESSAGE_MAX_LENGTH, Session, SessionDetails, rule_of
from convene.events.timezones import LocalTimeError, localize


class RepeatForm(BootstrapFormMixin, forms.Form):
    """Part of the event form (prefix ``repeat``): whether and how the event repeats."""

    frequency = forms.ChoiceField(
        label="Repeats",
        required=False,
        choices=[("", "Does not repeat"), *[(f.value, f"{f.value.title()}") for f in Frequency]],
    )
    interval = forms.IntegerField(
        label="Every",
        min_value=1,
        max_value=MAX_INTERVAL,
        initial=1,
        required=False,
        help_text="1 for every day/week/month, 2 for every other, ...",
    )
    weekdays = forms.TypedMultipleChoiceField(
        label="On",
        required=False,
        coerce=int,
        choices=list(enumerate(WEEKDAY_NAMES)),
        widget=forms.CheckboxSelectMultiple,
        help_text="Weekly series: include the first session's day.",
    )
    monthly_by = forms.ChoiceField(
        label="Monthly on",
        required=False,
        choices=[
            (MonthlyBy.DAY_OF_MONTH.value, "the same day of the month (e.g. the 14th)"),
            (MonthlyBy.WEEKDAY.value, "the same weekday of the month (e.g. the second Tuesday)"),
        ],
        initial=MonthlyBy.DAY_OF_MONTH.value,
    )
    ends = forms.ChoiceField(
        label="How long",
        required=False,
        choices=[("count", "after a number of sessions"), ("until", "on a date")],
        initial="count",
    )
    count = forms.IntegerField(
        label="Sessions",
        min_value=1,
        max_value=MAX_SESSIONS,
        required=False,
        help_text=f"At most {MAX_SESSIONS} sessions.",
    )
    until = forms.DateField(
        label="Last day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"Included. At most {MAX_SESSIONS} sessions.",
    )

    @classmethod
    def initial_for(cls, event: Event | None) -> dict[str, Any]:
        rule = rule_of(event) if event is not None else None
        if rule is None:
            return {"interval": 1, "ends": "count", "monthly_by": MonthlyBy.DAY_OF_MONTH.value}
        return {
            "frequency": rule.frequency.value,
            "interval": rule.interval,
            "weekdays": list(rule.weekdays),
            "monthly_by": rule.monthly_by.value,
            "ends": "until" if rule.until else "count",
            "count": rule.count,
            "until": rule.until,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("frequency"):
            return data
        if data.get("ends") == "until":
            if data.get("until") is None:
                self.add_error("until", "Give the series' last day.")
        elif data.get("count") is None:
            self.add_error("count", "Give the number of sessions.")
        return data

    def rule(self) -> Rule | None:
        data = self.cleaned_data
        if not data.get("frequency"):
            return None
        frequency = Frequency(data["frequency"])
        until: date | None = data["until"] if data.get("ends") == "until" else None
        return Rule(
            frequency=frequency,
            interval=data.get("interval") or 1,
            weekdays=tuple(data["weekdays"]) if frequency == Frequency.WEEKLY else (),
            monthly_by=MonthlyBy(data.get("monthly_by") or MonthlyBy.DAY_OF_MONTH),
            until=until,
            count=None if until is not None else data.get("count"),
        )


class SessionForm(BootstrapFormMixin, forms.Form):
    """One session's time, place and link (in the event's zone)."""

    start = LocalDateTimeField(label="Starts")
    end = LocalDateTimeField(label="Ends")
    location = forms.CharField(
        max_length=bounds.LOCATION_MAX_LENGTH,
        required=False,
        validators=[refuse_control_characters],
    )
    is_online = forms.BooleanField(label="Online session", required=False)
    online_url = forms.URLField(
        label="Online meeting link",
        required=False,
        assume_scheme="https",
        max_length=bounds.ONLINE_URL_MAX_LENGTH,
    )

    def __init__(self, *args: Any, zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone

    @staticmethod
    def initial_for(session: Session) -> dict[str, Any]:
        return {
            "start": session.local_start.replace(tzinfo=None),
            "end": session.local_end.replace(tzinfo=None),
            "location": session.location,
            "is_online": session.is_online,
            "online_url": session.online_url,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("start", "end"):
            local = data.get(name)
            if isinstance(local, datetime):
                try:
                    data[name] = localize(local, self.zone)
                except LocalTimeError as problem:
                    self.add_error(name, str(problem))
        return data

    def details(self) -> SessionDetails:
        data = self.cleaned_data
        return SessionDetails(
            start=data["start"],
            end=data["end"],
            location=data["location"].strip(),
            is_online=data["is_online"],
            online_url=data["online_url"],
        )


class CancelSessionForm(BootstrapFormMixin, forms.Form):
    message = forms.CharField(
        label="Message to the people on this series",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=MESSAGE_MAX_LENGTH,
        validators=[refuse_control_characters_except_line_breaks],
    )
