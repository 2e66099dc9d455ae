"""What Convene wants an event's Outlook copy to be: the event read into a ``mapping``
snapshot (which ``microsoft.mapping`` turns into Graph's JSON)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from convene.events import series
from convene.events.models import AttendeeList, Enrollment, Event, OnlineKind
from convene.events.timezones import to_local
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.recurrence import patterned_recurrence
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import OutlookSettings, RoomBooking
from convene.outlook.outbound import copies

# The fields of an Event that ``event_snapshot`` reads: a change to any other (capacity) does
# not sync. A new synced field is read below and listed here, side by side.
SYNCED_FIELDS = frozenset(
    {
        "title",
        "description",
        "start",
        "end",
        "timezone",
        "location",
        "is_online",
        "online_url",
        "online_kind",
        "attendee_list",
    }
)

_ENROLLMENT_ROW = ("event_id", "user_id", "user__email", "user__display_name", "role")
EnrollmentRow = tuple[int, int, str, str, str]
"""An enrollment as a snapshot needs it: (event id, user id, email, name, role). Read as plain
rows: making model instances of 30 enrollments cost more than the query."""


def booked_room(event: Event) -> RoomBooking | None:
    """The event's room booking, with its room: as read with the event when it was
    (``select_related("room_booking__room")``, as a batch does), read now otherwise."""
    try:
        return event.room_booking
    except RoomBooking.DoesNotExist:
        return None


def wants_teams(event: Event) -> bool:
    """Whether Outlook should make a Teams meeting for the event."""
    return event.is_online and event.online_kind == OnlineKind.TEAMS


def people(events: list[Event]) -> dict[int, list[EnrollmentRow]]:
    """Every enrollment of the events, with its person, in one query."""
    found: dict[int, list[EnrollmentRow]] = defaultdict(list)
    for row in Enrollment.objects.filter(event__in=events).values_list(*_ENROLLMENT_ROW):
        found[row[0]].append(row)
    return found


def split_for(
    event: Event,
    platform: bool,
    enrollments: Iterable[EnrollmentRow] | None = None,
    seated: bool | None = None,
) -> copies.Split:
    """Who is on which Outlook copy of ``event`` (``outbound.copies``); ``seated``: whether
    the event has seats stored, when the caller knows."""
    if enrollments is None:
        enrollments = Enrollment.objects.filter(event=event).values_list(*_ENROLLMENT_ROW)
    rows = list(enrollments)
    # The room takes a place on the own copy: asked only when that place could matter.
    has_room = len(rows) >= copies.PER_COPY - 1 and booked_room(event) is not None
    return copies.split(event, rows, platform=platform, has_room=has_room, seated=seated)


def persons(
    event: Event, rows: Iterable[EnrollmentRow], platform: bool
) -> tuple[mapping.Person, ...]:
    """The people of these enrollments as Outlook attendees."""
    return tuple(
        # A person's name is their display name, or their address without one (User.name).
        mapping.Person(email=email, name=name or email, role=role)
        for _, user_id, email, name, role in rows
        # In their own calendar the creator is the organizer, whatever their Convene address.
        if platform or user_id != event.created_by_id
    )


def overflow_people(
    event: Event, split: copies.Split, platform: bool
) -> dict[int, tuple[mapping.Person, ...]]:
    """Each overflow copy's attendees."""
    return {part: persons(event, split.rows(part), platform) for part in split.overflow_parts}


def hides_attendees(event: Event, invitees: int, hide_above: int | None = None) -> bool:
    """Whether Outlook should hide the event's attendee list (``hideAttendees``)."""
    if event.attendee_list == AttendeeList.AUTO:
        if hide_above is None:
            hide_above = OutlookSettings.load().hide_attendees_above
        return invitees > hide_above
    return event.attendee_list == AttendeeList.HIDDEN


def event_snapshot(
    event: Event,
    owner_email: str,
    platform: bool,
    enrollments: Iterable[EnrollmentRow] | None = None,
    *,
    split: copies.Split | None = None,
    seated: bool | None = None,
    hide_above: int | None = None,
) -> mapping.EventSnapshot:
    """What Convene wants ``event``'s own copy in ``owner_email``'s calendar to be
    (``enrollments``: the event's, when already read; ``split``: who is on which copy, when
    already decided; ``seated``, ``hide_above``: see ``split_for``, ``hides_attendees``).
    Its people are those of the own copy; an event too big for one has overflow copies
    (``outbound.copies``)."""
    if split is None:
        split = split_for(event, platform, enrollments, seated)
    attendees = persons(event, split.rows(0), platform)
    booking = booked_room(event)
    if booking is not None:
        # The room is invited as a resource: its mailbox answers for it.
        attendees += (
            mapping.Person(email=booking.room.email, name=booking.room.name, role="room"),
        )
    description = _description(event.description, event.is_online, event.online_url)
    rule = series.rule_of(event)
    recurrence = (
        patterned_recurrence(
            rule,
            to_local(event.start, event.timezone),
            mapping.graph_date_time(event.start, event.timezone)["timeZone"],
        )
        if rule is not None
        else None
    )
    return mapping.EventSnapshot(
        event_id=event.pk,
        title=event.title,
        description=description,
        start=event.start,
        end=event.end,
        timezone=event.timezone,
        location=event.location,
        teams_meeting=wants_teams(event),
        is_cancelled=event.is_cancelled,
        url=AppRegistration.from_settings().absolute(event.get_absolute_url()),
        organizer_name=event.created_by.name,
        owner_email=owner_email,
        people=attendees,
        show_organizer_in_body=platform,
        recurrence=recurrence,
        sessions=_differing_sessions(event, event.description) if rule is not None else (),
        hide_attendees=hides_attendees(event, split.invitees, hide_above),
    )


def _description(text: str, is_online: bool, online_url: str) -> str:
    if is_online and online_url:
        return f"{text}\n\nJoin online: {online_url}".strip()
    return text


def _differing_sessions(event: Event, text: str) -> tuple[mapping.SessionSnapshot, ...]:
    """The series' sessions Outlook shows as exceptions or cancelled occurrences."""
    return tuple(
        _session_snapshot(session, text)
        for session in series.sessions(event)
        if session.is_changed or session.is_cancelled
    )


def session_snapshot(event: Event, on: str) -> mapping.SessionSnapshot | None:
    """Any one session (by ISO date) as Outlook should show it; None if there is none."""
    for session in series.sessions(event):
        if session.on.isoformat() == on:
            return _session_snapshot(session, event.description)
    return None


def _session_snapshot(session: series.Session, text: str) -> mapping.SessionSnapshot:
    return mapping.SessionSnapshot(
        on=session.on,
        start=session.start,
        end=session.end,
        location=session.location,
        description=_description(text, session.is_online, session.online_url),
        is_cancelled=session.is_cancelled,
        message=session.cancellation_reason or "This session has been cancelled.",
    )
