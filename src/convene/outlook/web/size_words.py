"""What an event's size means in Outlook, in words, shown before saving: on the Manage people
page (with one more person) and beside the event form's Save button."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.http import HttpRequest

from convene import permissions
from convene.events.models import AttendeeList, Event
from convene.outlook.models import Mode, OutlookSettings
from convene.outlook.outbound.copies import PER_COPY, copies_needed


@dataclass(frozen=True)
class Size:
    """What an event of some size becomes in Outlook."""

    invited: int
    copies: int
    hidden: bool

    @classmethod
    def of(cls, people: int, attendee_list: str, outlook: OutlookSettings) -> Size:
        """``people``: everyone on the event, its creator included."""
        # In organizer calendars the creator is the meeting's organizer, not an attendee.
        invited = people if outlook.mode == Mode.PLATFORM else max(people - 1, 0)
        hidden = attendee_list == AttendeeList.HIDDEN or (
            attendee_list == AttendeeList.AUTO and invited > outlook.hide_attendees_above
        )
        return cls(invited, copies_needed(invited), hidden)


def size_words(people: int, attendee_list: str, outlook: OutlookSettings) -> str:
    """The sentences for an event of ``people`` people (its creator included)."""
    size = Size.of(people, attendee_list, outlook)
    if size.copies == 1:
        first = f"In Outlook this is one event inviting {_people(size.invited)}."
    else:
        first = (
            f"In Outlook, {_people(size.invited)} are more than one event may hold "
            f"({PER_COPY}), so it goes out as {size.copies} copies: everyone is invited on "
            "exactly one of them, organizers and presenters on the first, and every change "
            "reaches all copies."
        )
    if not size.hidden:
        second = "Attendees see who else is invited" + (
            " on their copy." if size.copies > 1 else "."
        )
    elif attendee_list == AttendeeList.HIDDEN:
        second = (
            "The attendee list is hidden (chosen for this event): each person sees only "
            "themselves and the organizer."
        )
    else:
        second = (
            f"The attendee list is hidden (more than {outlook.hide_attendees_above} people, the "
            "site's setting): each person sees only themselves and the organizer."
        )
    return f"{first} {second}"


def _people(count: int) -> str:
    return f"{count:,} {'person' if count == 1 else 'people'}"


def people_page_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    """Manage people panel: what the event's size means with one more person."""
    event = page.get("event")
    outlook = OutlookSettings.load()
    if not isinstance(event, Event) or not outlook.enabled or event.is_cancelled:
        return {"size_now": "", "size_next": ""}
    people = event.enrollments.count()
    return {
        "size_now": size_words(people, event.attendee_list, outlook),
        "size_next": size_words(people + 1, event.attendee_list, outlook),
        # One more person splits the event into one more copy, or hides its list.
        "size_changes": Size.of(people, event.attendee_list, outlook)
        != replace(
            Size.of(people + 1, event.attendee_list, outlook),
            invited=Size.of(people, event.attendee_list, outlook).invited,
        ),
    }


def event_form_note(request: HttpRequest, event: Any) -> str | None:
    """Event form note (editing): what the event's size means in Outlook, with the attendee
    list setting as chosen on the form."""
    outlook = OutlookSettings.load()
    if not isinstance(event, Event) or not outlook.enabled:
        return None
    if not permissions.can_edit_event(request.user, event):
        return None
    chosen = request.POST.get("attendee_list", "") if request.method == "POST" else ""
    if chosen not in AttendeeList.values:
        chosen = event.attendee_list
    people = event.enrollments.count()
    size = Size.of(people, chosen, outlook)
    if size.copies == 1 and not size.hidden:
        return None  # nothing out of the ordinary to say
    return size_words(people, chosen, outlook)
