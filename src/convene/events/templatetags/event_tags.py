"""Showing events: times in the event's own zone, labelled, and permission checks."""

from __future__ import annotations

from datetime import date

from django import template
from django.utils.dateformat import format as format_date

from convene import permissions
from convene.events import series
from convene.events.models import Event
from convene.permissions import AnyUser

register = template.Library()


@register.filter
def next_session(event: Event) -> Event | series.Session:
    """What a list shows for an event: itself, or a series' next session (its last one once
    all are over or cancelled)."""
    if not series.is_series(event):
        return event
    return series.next_session(event) or series.sessions(event)[-1]


@register.filter
def series_words(event: Event) -> str:
    return series.describe_series(event)


@register.filter
def series_summary(event: Event) -> str:
    """E.g. "Series, 12 sessions, 1 changed, 1 cancelled"; "" for an event that does not repeat."""
    return series.summary(event)


@register.filter
def session_counts(event: Event) -> str:
    """E.g. "12 sessions, 1 changed, 1 cancelled"."""
    return series.counts(event).in_words()


@register.filter
def session_day(iso_date: str) -> str:
    """An audit entry's session (an ISO date) as people read it: "Mon 12 Jan 2026"."""
    try:
        return f"{date.fromisoformat(str(iso_date)):%a %d %b %Y}"
    except ValueError:
        return str(iso_date)


@register.filter
def event_when(event: Event | series.Session) -> str:
    """E.g. "Sun 29 Mar 2026, 10:00 - 12:00 CEST (Europe/Berlin)"; both dates when the event
    spans midnight; each end labelled when the abbreviation changes (across a DST switch)."""
    start, end = event.local_start, event.local_end
    start_label, end_label = start.tzname() or "", end.tzname() or ""
    start_text = f"{format_date(start, 'D j M Y')}, {start:%H:%M}"
    if start_label != end_label:
        start_text += f" {start_label}"
    end_text = f"{end:%H:%M}"
    if end.date() != start.date():
        end_text = f"{format_date(end, 'D j M Y')}, {end_text}"
    text = f"{start_text} \N{EN DASH} {end_text} {end_label}"
    return f"{text} ({event.timezone})"


@register.filter
def can_manage_event(user: AnyUser, event: Event) -> bool:
    return permissions.can_manage_event(user, event)


@register.filter
def can_edit_event(user: AnyUser, event: Event) -> bool:
    return permissions.can_edit_event(user, event)


@register.filter
def can_cancel_event(user: AnyUser, event: Event) -> bool:
    return permissions.can_cancel_event(user, event)
